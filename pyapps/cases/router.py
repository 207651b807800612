"""Routes ``/hello`` to the hello app and everything else to the upload app, so one
server can answer a client script that exercises both."""

import hello
import upload


def application(environ, start_response):
    if environ.get("PATH_INFO") == "/hello":
        return hello.application(environ, start_response)
    return upload.application(environ, start_response)
