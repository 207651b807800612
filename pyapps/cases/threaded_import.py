"""An app that starts a thread when it is imported (a metrics flusher, say), for the
``--preload`` test of the master's warning: with ``--preload`` the thread runs in the
master, and the workers forked from it do not have it.

Answers ``threads=<threads alive in this process>``.
"""

import threading

_stop = threading.Event()
threading.Thread(target=_stop.wait, name="flusher", daemon=True).start()


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"threads={threading.active_count()}\n".encode()]
