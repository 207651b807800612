"""App specs beyond ``module:application``: factories and dotted attributes.

* ``cases.factory:create_app()`` and ``cases.factory:create_app("x", n=2)``;
* ``cases.factory:holder.inner.app`` (a dotted attribute path);
* ``cases.factory:instance`` (a callable object);
* ``cases.factory`` alone uses ``application``.
"""

from types import SimpleNamespace


def _app(text):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [text.encode() + b"\n"]

    return app


def create_app(name="default", n=0):
    return _app(f"factory {name} {n}")


class Callable:
    def __call__(self, environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"callable instance\n"]


application = _app("module application")
holder = SimpleNamespace(inner=SimpleNamespace(app=_app("dotted attribute")))
instance = Callable()
