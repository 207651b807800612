"""The ``rsgi-server`` command and ``python -m rsgi_server``: hands the command line to the
server, which keeps the process until it stops, and exits with its status."""

import signal
import sys


def main():
    # The server handles INT (and every other signal it cares about) itself; Python's own
    # handler would also run and leave a KeyboardInterrupt pending for when it returns.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    from ._rsgi import main as run

    sys.exit(run(["rsgi-server"] + sys.argv[1:]))


if __name__ == "__main__":
    main()
