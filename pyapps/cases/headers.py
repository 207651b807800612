"""Apps that pass bad headers to ``start_response``; the server must answer 500.

The path picks the header: ``/crlf-value``, ``/lf-value``, ``/cr-name``, ``/nul-value``,
``/colon-name``, ``/hop/<Header-Name>`` (a hop-by-hop header), and ``/ok`` for a control.
``/latin1`` sends a reason and a header value beyond ASCII but within latin-1 (allowed,
and sent as latin-1 bytes). ``/status-crlf`` puts a CR/LF in the status line;
``/non-latin1`` sends a header value that is not latin-1 encodable and ``/str-body``
returns a str instead of bytes (both forbidden by PEP 3333). ``/padded`` sends values with
blanks around them (as Django's ``Set-Cookie``), ``/blank`` an empty one.
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
    elif path == "/latin1":
        status = "200 Caf\u00e9"
        headers.append(("X-Latin", "caf\u00e9 cr\u00e8me"))
    elif path == "/non-latin1":
        headers.append(("X-Euro", "\u20ac"))
    elif path == "/str-body":
        start_response(status, headers)
        return ["a str, not bytes\n"]
    elif path == "/padded":
        headers.append(("Set-Cookie", " a=b; Path=/"))
        headers.append(("X-Padded", "\t v \t"))
    elif path == "/blank":
        headers.append(("X-Blank", "  "))
    elif path.startswith("/hop/"):
        headers.append((path[len("/hop/"):], "hop-value"))
    elif path != "/ok":
        start_response("404 Not Found", headers)
        return [b"unknown case\n"]
    start_response(status, headers)
    return [b"headers accepted\n"]
