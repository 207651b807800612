"""Lists the whole environ in order, one ``KEY=repr(value)`` line per key (``wsgi.input``'s
object left out), then spoils the environ it was given: a server that shared one dict
between requests would show the damage in the next one."""


def application(environ, start_response):
    lines = [
        "%s=%r" % (key, value) for key, value in environ.items() if key != "wsgi.input"
    ]
    for key in ("REMOTE_ADDR", "SERVER_NAME", "REQUEST_METHOD", "QUERY_STRING"):
        environ[key] = "spoiled"
    environ.pop("HTTP_HOST", None)
    environ["X_ADDED"] = "spoiled"
    body = ("\n".join(lines) + "\n").encode("latin-1")
    # A length, so an HTTP/1.0 client's connection can stay open.
    start_response(
        "200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
    )
    return [body]
