"""Serves one file through ``wsgi.file_wrapper`` (the server may use sendfile).

The file is named by the ``DOWNLOAD_FILE`` process environment variable, e.g.
``rsgi-server -e DOWNLOAD_FILE=/srv/big.iso download``; without it the app serves its own
source. ``?nolength=1`` omits Content-Length (the server then chunks the response) and
``?block=N`` sets the file_wrapper block size.
"""

import os
from urllib.parse import parse_qs


def application(environ, start_response):
    query = parse_qs(environ.get("QUERY_STRING", ""))
    path = os.environ.get("DOWNLOAD_FILE", __file__)
    block = int(query.get("block", ["65536"])[0])
    f = open(path, "rb")
    headers = [("Content-Type", "application/octet-stream")]
    if query.get("nolength", ["0"])[0] != "1":
        headers.append(("Content-Length", str(os.fstat(f.fileno()).st_size)))
    start_response("200 OK", headers)
    return environ["wsgi.file_wrapper"](f, block)
