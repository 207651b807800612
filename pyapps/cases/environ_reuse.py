"""Lists the environ in order, one ``KEY=repr(value)`` line per key (``wsgi.input``'s object
left out), and by path does something to it after listing it: ``/keep`` keeps it,
``/spoil-value``, ``/spoil-add`` and ``/spoil-del`` change, add or delete a key that a
connection's later requests do not set again. ``/kept`` lists the environ ``/keep`` kept.

A server that handed the next request an environ the app kept or changed would show it."""

kept = []


def application(environ, start_response):
    path = environ["PATH_INFO"]
    listed = kept[-1] if path == "/kept" else environ
    lines = ["%s=%r" % (key, value) for key, value in listed.items() if key != "wsgi.input"]
    if path == "/keep":
        kept.append(environ)
    elif path == "/spoil-value":
        environ["SERVER_NAME"] = "spoiled"
    elif path == "/spoil-add":
        environ["X_ADDED"] = "spoiled"
    elif path == "/spoil-del":
        del environ["REMOTE_ADDR"]
    body = ("\n".join(lines) + "\n").encode("latin-1")
    start_response(
        "200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
    )
    return [body]
