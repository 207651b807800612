"""Offload (``--sendfile-header``): ``/offload?h=<header>&v=<value>`` answers with that
header, a ``Content-Disposition`` the client must still see, and a body the client must
never see (the server replaces it with the named file). Any other path answers
``app says hi`` (the application still serving while files are sent).
"""

from urllib.parse import parse_qs


def application(environ, start_response):
    if environ["PATH_INFO"] != "/offload":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"app says hi\n"]
    query = parse_qs(environ.get("QUERY_STRING", ""))
    headers = [
        ("Content-Type", "application/pdf"),
        ("Content-Disposition", 'attachment; filename="report.pdf"'),
        (query["h"][0], query["v"][0]),
    ]
    start_response("200 OK", headers)
    return iter([b"APP-BODY-ONE", b"APP-BODY-TWO"])
