"""Apps that pass bad headers to ``start_response``; the server must answer 500.

The path picks the header: ``/crlf-value``, ``/lf-value``, ``/cr-name``, ``/nul-value``,
``/colon-name``, ``/hop/<Header-Name>`` (a hop-by-hop header), and ``/ok`` for a control.
``/status-crlf`` puts a CR/LF in the status line.
"""


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    status = "200 OK"
    headers = [("Content-Type", "text/plain")]
    if path == "/crlf-value":
        headers.append(("X-Injected", "a\r\nSet-Cookie: evil=1"))
    elif path == "/lf-value":
        headers.append(("X-Injected", "a\nb"))
    elif path == "/cr-name":
        headers.append(("X-Bad\rName", "v"))
    elif path == "/nul-value":
        headers.append(("X-Nul", "a\x00b"))
    elif path == "/colon-name":
        headers.append(("X-Bad: Name", "v"))
    elif path == "/status-crlf":
        status = "200 OK\r\nX-Injected: 1"
    elif path.startswith("/hop/"):
        headers.append((path[len("/hop/"):], "hop-value"))
    elif path != "/ok":
        start_response("404 Not Found", headers)
        return [b"unknown case\n"]
    start_response(status, headers)
    return [b"headers accepted\n"]
