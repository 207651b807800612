"""The Python side of --reload (run inside rsgi-server; see reloader.rs)."""

import os
import sys
import traceback


def app_paths_files(roots, excluded):
    """Source files of loaded modules under ``roots`` and outside ``excluded`` (for --reload)."""
    files = []
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if not path:
            continue
        path = os.path.abspath(path)
        if not path.startswith(roots) or path.startswith(excluded):
            continue
        files.append(path)
    return files


def failed_import_files(exc):
    """Files an import failure points at: the file with the syntax error, and every frame."""
    files = []
    if isinstance(exc, SyntaxError) and exc.filename:
        files.append(os.path.abspath(exc.filename))
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        files.append(os.path.abspath(frame.f_code.co_filename))
    return files


def error_app(text):
    """A WSGI app that answers 500 with ``text`` (a failed import under --reload)."""
    body = text.encode("utf-8", "replace")

    def application(environ, start_response):
        start_response(
            "500 Internal Server Error",
            [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
        )
        return [body]

    return application
