"""Executes a gunicorn config file or module as gunicorn does (run by rsgi-server in a
short-lived child process; see config_file.rs) and reports its module-level names as JSON.

gunicorn (``gunicorn/app/base.py``) executes the file as a module named ``__config__`` and
reads every name that is a setting. We report every public name, so that rsgi-server can
say which assignments are not settings instead of ignoring them: plain values as JSON,
functions (hooks) by name. Modules, classes and ``_private`` names are helpers, not settings.
"""

import enum
import importlib
import math
import importlib.machinery
import importlib.util
import json
import os
import sys
import types

# Settings whose value gunicorn accepts as a class as well as its dotted name.
CLASS_SETTINGS = ("worker_class", "logger_class")


def execute(kind, spec):
    """The namespace of the config: ``kind`` is "module" (``python:NAME``) or "file"."""
    if kind == "module":
        return vars(importlib.import_module(spec))
    if not os.path.exists(spec):
        raise FileNotFoundError(f"{spec!r} doesn't exist")
    name = "__config__"
    # An explicit source loader: gunicorn executes a config file whatever its extension.
    loader = importlib.machinery.SourceFileLoader(name, spec)
    file_spec = importlib.util.spec_from_file_location(name, spec, loader=loader)
    module = importlib.util.module_from_spec(file_spec)
    sys.modules[name] = module
    file_spec.loader.exec_module(module)
    return vars(module)


def plain(value):
    """``value`` as JSON can hold it, or a marker with its repr for rsgi-server to refuse."""
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, float) and not math.isfinite(value):
        return {"__unrepresentable__": repr(value)}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    return {"__unrepresentable__": f"{type(value).__name__}: {value!r}"[:200]}


def report(kind, spec, cwd):
    """Executes the config and returns the JSON rsgi-server reads: its names, and what it
    changed in ``os.environ`` and ``sys.path``, which under gunicorn the master and the
    workers inherit (``os.environ.setdefault("DJANGO_SETTINGS_MODULE", ...)``)."""
    # As gunicorn, whose `python:` configs import from the directory it is started in.
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    environ_before = dict(os.environ)
    path_before = list(sys.path)
    namespace = execute(kind, spec)
    environ = {
        key: value for key, value in os.environ.items() if environ_before.get(key) != value
    }
    added_paths = [entry for entry in sys.path if entry not in path_before and entry]
    values = {}
    callables = []
    for name, value in namespace.items():
        if name.startswith("_") or isinstance(value, types.ModuleType):
            continue
        if isinstance(value, type):
            if name in CLASS_SETTINGS:
                values[name] = f"{value.__module__}.{value.__qualname__}"
            continue
        if callable(value):
            callables.append(name)
            continue
        values[name] = plain(value)
    return json.dumps(
        {"values": values, "callables": callables, "environ": environ, "sys_path": added_paths}
    )
