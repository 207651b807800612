"""Lists the request's header keys in environ order, one per line: ``HTTP_*`` keys, and
``HTTP_HOST=None`` style markers if a key's value is not a string (it must always be one)."""


def application(environ, start_response):
    lines = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            lines.append(key if isinstance(value, str) else "%s=%r" % (key, value))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("\n".join(lines) + "\n").encode("ascii")]
