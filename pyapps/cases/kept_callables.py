"""Keeps the ``start_response`` of a ``/keep_start`` request, the ``write`` of a
``/keep_write`` one, or a weak reference to the ``start_response`` of a ``/keep_weak`` one,
and calls what it kept in a later ``/use`` request, reporting what each did; anything else is
a plain 200. A server that reused a kept callable for a later request would let the stale
call change that request's response."""

import weakref

kept = {}


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/keep_start":
        kept["start_response"] = start_response
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"kept"]
    if path == "/keep_weak":
        try:
            kept["weak"] = weakref.ref(start_response)
        except TypeError:
            # Not weakly referenceable: as unreachable later as a dead reference.
            kept["weak"] = lambda: None
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"kept"]
    if path == "/keep_write":
        kept["write"] = start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"kept"]
    if path == "/use":
        outcomes = []
        if "weak" in kept:
            stale = kept.pop("weak")()
            if stale is None:
                outcomes.append("weak: gone")
            else:
                kept["start_response"] = stale
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
