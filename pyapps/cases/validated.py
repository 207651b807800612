"""Demo apps wrapped in ``wsgiref.validate.validator``, with its warnings turned into errors.

Any PEP 3333 violation the validator can see on the server side (environ types, the input
and error streams, iteration and ``close()``) raises, so a clean 200 means the server
passed. ``hello``, ``environ_app``, ``stream``, ``upload`` and ``writer`` are exported.
"""

import sys
import warnings
from wsgiref.validate import WSGIWarning, validator

import environ as _environ
import hello as _hello
import stream as _stream
import upload as _upload

warnings.simplefilter("error", WSGIWarning)


def _unraisable(info):
    # The validator asserts in __del__ that close() was called; such errors are
    # "unraisable", so make them loud and easy to grep for.
    sys.stderr.write(f"VALIDATOR UNRAISABLE: {info.exc_type.__name__}: {info.exc_value}\n")
    sys.stderr.flush()


sys.unraisablehook = _unraisable


def _writer(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"written ")
    return [b"returned\n"]


hello = validator(_hello.application)
environ_app = validator(_environ.application)
stream = validator(_stream.application)
upload = validator(_upload.application)
writer = validator(_writer)
