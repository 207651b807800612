"""Process-hygiene probe (tests/it/hygiene_*.rs, tests/it/systemd_*.rs), as JSON.

- ``/`` (any other path): pid, ppid, uid/gid/groups, ``sys.argv`` and the selected
  ``os.environ`` entries (``?env=NAME``, repeatable).
- ``/touch?path=FILE``: creates FILE and reports its permission bits (the umask's effect).
- ``/doublefork?sock=PATH``: double-forks a process that connects to the Unix socket PATH
  and exits when the other end closes it; the intermediate child is reaped here, so the
  grandchild is an orphan for init (the master, when it runs as PID 1) to reap.

With ``HYGIENE_IMPORT_GATE=FILE`` in the environment, the import waits until FILE exists,
so a test decides when workers become ready.
"""

import json
import os
import socket
import sys
import time
from urllib.parse import parse_qs

_gate = os.environ.get("HYGIENE_IMPORT_GATE")
while _gate and not os.path.exists(_gate):
    time.sleep(0.01)


def _doublefork(path):
    child = os.fork()
    if child == 0:
        try:
            if os.fork() == 0:
                try:
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    s.connect(path)
                    s.sendall(b"orphan\n")
                    s.recv(1)  # until the test closes its end
                finally:
                    os._exit(0)
        finally:
            os._exit(0)
    os.waitpid(child, 0)


def application(environ, start_response):
    query = parse_qs(environ.get("QUERY_STRING", ""))
    path = environ.get("PATH_INFO", "/")
    report = {}
    if path == "/touch":
        target = query["path"][0]
        with open(target, "w") as f:
            f.write("x")
        report["mode"] = os.stat(target).st_mode & 0o777
    elif path == "/doublefork":
        _doublefork(query["sock"][0])
        report["forked"] = True
    else:
        report = {
            "pid": os.getpid(),
            "ppid": os.getppid(),
            "uid": os.getuid(),
            "euid": os.geteuid(),
            "gid": os.getgid(),
            "egid": os.getegid(),
            "groups": os.getgroups(),
            "argv": sys.argv,
            "env": {name: os.environ.get(name) for name in query.get("env", [])},
        }
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(report).encode()]
