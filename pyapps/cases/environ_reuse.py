"""Lists the environ in order, one ``KEY=repr(value)`` line per key (``wsgi.input``'s object
left out), and names the dict in ``X-Environ-Id`` (its ``id()``). By path it then does
something to it: ``/keep`` keeps it, ``/spoil-value``, ``/spoil-add`` and ``/spoil-del``
change, add or delete a key that a connection's later requests do not set again, and
``/attach`` puts an object in it. ``/kept`` lists the environ ``/keep`` kept;
``/attached`` answers how many attached objects are still alive.

A server that handed the next request an environ the app kept or changed, or kept one the
app attached things to after its request, would show it."""

import weakref

kept = []
attached = weakref.WeakSet()


class Attachment:
    """Something an app hangs on its environ (a session, a parsed form)."""


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/attached":
        body = b"%d alive\n" % len(attached)
    else:
        listed = kept[-1] if path == "/kept" else environ
        lines = ["%s=%r" % (key, value) for key, value in listed.items() if key != "wsgi.input"]
        body = ("\n".join(lines) + "\n").encode("latin-1")
    if path == "/keep":
        kept.append(environ)
    elif path == "/spoil-value":
        environ["SERVER_NAME"] = "spoiled"
    elif path == "/spoil-add":
        environ["X_ADDED"] = "spoiled"
    elif path == "/spoil-del":
        del environ["REMOTE_ADDR"]
    elif path == "/attach":
        thing = Attachment()
        attached.add(thing)
        environ["app.attachment"] = thing
    start_response(
        "200 OK",
        [
            ("Content-Type", "text/plain"),
            ("Content-Length", str(len(body))),
            ("X-Environ-Id", str(id(environ))),
        ],
    )
    return [body]
