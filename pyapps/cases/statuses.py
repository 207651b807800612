"""Answers ``/status/<code>`` with that status; ``/raise`` raises before ``start_response``
(an application error: 500). For the StatsD tests, which run it under gunicorn too.
"""


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/raise":
        raise RuntimeError("statuses: failing on purpose")
    code = path.rsplit("/", 1)[-1] if path.startswith("/status/") else "200"
    start_response(f"{code} Status", [("Content-Type", "text/plain")])
    return [f"status {code}\n".encode()]
