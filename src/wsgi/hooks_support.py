"""The objects gunicorn server hooks receive (run inside rsgi-server; see hooks.rs).

Hooks written for gunicorn use a handful of attributes: ``server.pid``, ``server.cfg.<setting>``,
``server.log.info(...)``, ``worker.pid``, ``worker.age``, ``req.path``, ``resp.status``...
These small classes provide those, not gunicorn's whole Arbiter/Worker/Request API.
"""

import importlib
import importlib.machinery
import importlib.util
import json
import sys
import traceback
import types

def load_module(spec, is_file):
    """Imports the hooks module (a dotted name) or executes a .py file as a module."""
    if not is_file:
        return importlib.import_module(spec)
    name = "rsgi_server_hooks"
    # An explicit source loader: the file need not end in .py (gunicorn's -c does not care).
    loader = importlib.machinery.SourceFileLoader(name, spec)
    file_spec = importlib.util.spec_from_loader(name, loader)
    module = importlib.util.module_from_spec(file_spec)
    sys.modules[name] = module
    file_spec.loader.exec_module(module)
    return module


def defined(module, names):
    """Those of ``names`` (gunicorn's hook names, from rsgi-server) that the module defines
    as callables, in order."""
    return [name for name in names if callable(getattr(module, name, None))]


class Log:
    """``server.log`` / ``worker.log``: writes to rsgi-server's error log."""

    def __init__(self, emit):
        self._emit = emit

    def _log(self, level, msg, args):
        text = str(msg)
        if args:
            try:
                text = text % args
            except (TypeError, ValueError):
                text = f"{text} {args!r}"
        self._emit(level, text)

    def debug(self, msg, *args, **_kwargs):
        self._log("debug", msg, args)

    def info(self, msg, *args, **_kwargs):
        self._log("info", msg, args)

    def warning(self, msg, *args, **_kwargs):
        self._log("warning", msg, args)

    warn = warning

    def error(self, msg, *args, **_kwargs):
        self._log("error", msg, args)

    def critical(self, msg, *args, **_kwargs):
        self._log("error", msg, args)

    def exception(self, msg, *args, **_kwargs):
        self._log("error", msg, args)
        self._emit("error", traceback.format_exc().rstrip())

    def log(self, level, msg, *args, **_kwargs):
        names = {10: "debug", 20: "info", 30: "warning", 40: "error", 50: "error"}
        self._log(names.get(level, "info"), msg, args)


def make_cfg(settings_json, gunicorn_names):
    """``server.cfg``: every setting as an attribute, named as in our config file and, for
    ``gunicorn_names`` (pairs of gunicorn's name and ours), as in gunicorn's, so that
    ``server.cfg.keepalive`` in a hook written for gunicorn reads ``keep_alive``."""
    settings = json.loads(settings_json)
    for theirs, ours in gunicorn_names:
        settings.setdefault(theirs, settings.get(ours))
    return types.SimpleNamespace(**settings)


class Server:
    """The ``server`` argument (gunicorn's Arbiter): the master process."""

    def __init__(self, pid, cfg, num_workers, log, app_spec):
        self.pid = pid
        self.cfg = cfg
        self.num_workers = num_workers
        self.log = log
        self.app_spec = app_spec
        self.proc_name = app_spec

    def __repr__(self):
        return f"<rsgi-server master pid={self.pid}>"


class Worker:
    """The ``worker`` argument: a worker process (in master-side hooks, what the master
    knows of one)."""

    def __init__(self, pid, ppid, age, log, cfg):
        self.pid = pid
        self.ppid = ppid
        self.age = age
        self.log = log
        self.cfg = cfg
        self.alive = True
        self.booted = False
        self.aborted = False

    def __repr__(self):
        return f"<rsgi-server worker pid={self.pid} age={self.age}>"


class Request:
    """The ``req`` argument of pre_request/post_request."""

    def __init__(self, method, path, query, uri, version, headers):
        self.method = method
        self.path = path
        self.query = query
        self.uri = uri
        self.version = version
        self.headers = headers

    def __repr__(self):
        return f"<Request {self.method} {self.uri}>"


class Recorder:
    """Wraps ``start_response`` when post_request is defined, to see status and headers."""

    __slots__ = ("_start_response", "status", "headers")

    def __init__(self, start_response):
        self._start_response = start_response
        self.status = None
        self.headers = []

    def __call__(self, status, headers, exc_info=None):
        write = self._start_response(status, headers, exc_info)
        self.status = status
        self.headers = list(headers)
        return write


class Response:
    """The ``resp`` argument of post_request."""

    def __init__(self, status, headers, sent):
        self.status = status
        try:
            self.status_code = int(status.split(None, 1)[0])
        except (ValueError, IndexError):
            self.status_code = None
        self.headers = headers
        self.sent = sent

    def __repr__(self):
        return f"<Response {self.status}>"
