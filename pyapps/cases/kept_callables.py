"""Keeps the ``start_response`` of a ``/keep_start`` request, or the ``write`` of a
``/keep_write`` one, and calls what it kept in a later ``/use`` request, reporting what each
did; anything else is a plain 200. A server that reused a kept callable for a later request
would let the stale call change that request's response."""

kept = {}


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/keep_start":
        kept["start_response"] = start_response
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"kept"]
    if path == "/keep_write":
        kept["write"] = start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"kept"]
    if path == "/use":
        outcomes = []
        for name, call in (
            ("start_response", lambda: kept.pop("start_response")("500 Stale", [("X-Stale", "1")])),
            ("write", lambda: kept.pop("write")(b"stale bytes")),
        ):
            if name not in kept:
                continue
            try:
                call()
                outcomes.append(name + ": accepted")
            except Exception as err:
                outcomes.append("%s: %s" % (name, type(err).__name__))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return ["\n".join(outcomes).encode()]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"plain"]
