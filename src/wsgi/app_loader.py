"""Resolves an app spec ``module:expression`` to the WSGI callable (run inside the worker).

The expression is a dotted attribute path from the module (``app``, ``obj.attr``), optionally
called with literal arguments (``create_app()``, ``create_app("prod", debug=False)``). It is
parsed with ``ast`` and never evaluated, so a config value cannot run arbitrary code.
"""

import ast
import importlib


def load(spec):
    module_name, sep, expression = spec.partition(":")
    if not sep or not expression:
        expression = "application"
    module = importlib.import_module(module_name)

    try:
        node = ast.parse(expression, mode="eval").body
    except SyntaxError:
        raise ValueError(f"{expression!r} is not an attribute name or a call") from None

    call = None
    if isinstance(node, ast.Call):
        try:
            args = [ast.literal_eval(arg) for arg in node.args]
            kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords}
        except ValueError:
            raise ValueError(
                f"arguments of {expression!r} must be literals (strings, numbers, ...)"
            ) from None
        if any(kw.arg is None for kw in node.keywords):
            raise ValueError(f"{expression!r}: **kwargs is not supported")
        call = (args, kwargs)
        node = node.func

    names = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        raise ValueError(f"{expression!r} is not an attribute name or a call")
    names.append(node.id)

    obj = module
    path = module_name
    for name in reversed(names):
        try:
            obj = getattr(obj, name)
        except AttributeError:
            raise AttributeError(f"{path!r} has no attribute {name!r}") from None
        path = f"{path}.{name}"

    if call is not None:
        obj = obj(*call[0], **call[1])
        if obj is None:
            raise TypeError(f"factory {expression!r} returned None instead of an application")
    if not callable(obj):
        raise TypeError(f"{spec!r} resolved to {type(obj).__name__!r}, which is not callable")
    return obj
