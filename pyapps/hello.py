"""The smallest WSGI app: ``rsgi-server hello:application``.

Returns a single-item list, so the server can send a Content-Length.
"""


def application(environ, start_response):
    body = b"Hello, World!\n"
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return [body]
