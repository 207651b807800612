"""Resolves an app spec ``module:expression`` to the WSGI callable (run inside the worker).

The expression is a dotted attribute path from the module (``app``, ``obj.attr``), optionally
called with literal arguments (``create_app()``, ``create_app("prod", debug=False)``). It is
parsed with ``ast`` and never evaluated, so a config value cannot run arbitrary code.
"""

import ast
import importlib
import linecache
import os
import sys


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


def load_paste(uri, global_conf, file_logging):
    """The app of a PasteDeploy ini file, as gunicorn loads it (gunicorn/app/pasterapp.py):
    ``uri`` is ``config:/abs/file.ini[#section]``. With ``file_logging``, the file's
    ``[loggers]`` section configures ``logging`` first, as gunicorn's --log-config would."""
    path = uri[len("config:"):].split("#", 1)[0]
    if file_logging:
        import logging.config

        defaults = {"__file__": path, "here": os.path.dirname(path)}
        logging.config.fileConfig(path, defaults=defaults, disable_existing_loggers=False)
    try:
        from paste.deploy import loadapp
    except ImportError as err:
        raise ImportError(
            f"--paste needs PasteDeploy, which cannot be imported ({err}); "
            "install it where the app's packages are (pip install PasteDeploy)"
        ) from err
    return loadapp(uri, relative_to=os.getcwd(), global_conf=dict(global_conf))


class Spew:
    """gunicorn's ``--spew`` trace function (gunicorn/debug.py): prints every line executed
    as ``module:lineno: source``."""

    def __call__(self, frame, event, arg):
        if event == "line":
            lineno = frame.f_lineno
            name = frame.f_globals.get("__name__", "[unknown]")
            filename = frame.f_globals.get("__file__") or frame.f_code.co_filename
            line = linecache.getline(filename, lineno)
            print(f"{name}:{lineno}: {line.rstrip()}")
        return self


def spew(app):
    """Traces this thread from now on, and every thread the app is called on (the pool's
    threads start untraced: ``sys.settrace`` is per thread)."""
    tracer = Spew()
    sys.settrace(tracer)

    def traced(environ, start_response):
        if sys.gettrace() is None:
            sys.settrace(tracer)
        return app(environ, start_response)

    return traced
