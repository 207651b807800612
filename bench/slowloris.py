"""Hold N slow connections open against an HTTP server, as a slowloris client does.

    python bench/slowloris.py --port PORT [--host 127.0.0.1] [-n 200] [--interval 5]

Each connection sends the start of a request head ("GET / HTTP/1.1", Host, then "X-Slow: ")
and then one more byte of that header's value every INTERVAL seconds, so the head is never
complete. A connection the server closes (or answers, e.g. with 408) is reopened at once, so
N stay open; "open" counts connections whose connect() succeeded and that the server has not
closed yet (for a server that has not accepted them yet, they wait in its listen backlog).

Every second it prints one JSON line on stdout: {"open", "target", "opened", "closed_by_server",
"connect_errors", "elapsed_s"}; the first line with open == target is preceded by a line
"READY". It runs until SIGTERM or SIGINT, then closes everything and exits 0.
"""

import argparse
import json
import selectors
import signal
import socket
import sys
import time


class Stop(Exception):
    pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("-n", "--connections", type=int, default=200)
    ap.add_argument("--interval", type=float, default=5.0, help="seconds between trickled bytes")
    args = ap.parse_args()

    def stop(signum, frame):
        raise Stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    sel = selectors.DefaultSelector()
    conns = {}  # socket -> time of its next trickled byte
    stats = {"open": 0, "target": args.connections, "opened": 0, "closed_by_server": 0,
             "connect_errors": 0, "elapsed_s": 0.0}
    start = time.monotonic()
    head = f"GET / HTTP/1.1\r\nHost: {args.host}:{args.port}\r\nUser-Agent: slowloris\r\nX-Slow: "

    def drop(sock):
        sel.unregister(sock)
        del conns[sock]
        sock.close()

    def open_one(now):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(2.0)
        try:
            sock.connect((args.host, args.port))
            sock.sendall(head.encode())
        except OSError:
            sock.close()
            stats["connect_errors"] += 1
            return False
        sock.setblocking(False)
        # Spread the trickled bytes over the interval rather than sending them in bursts.
        conns[sock] = now + args.interval * (1 + (stats["opened"] % 100) / 100)
        sel.register(sock, selectors.EVENT_READ)
        stats["opened"] += 1
        return True

    ready = False
    next_report = time.monotonic()
    try:
        while True:
            now = time.monotonic()
            # Top up to the target; give up for this round after a few failures in a row.
            failures = 0
            while len(conns) < args.connections and failures < 3:
                if not open_one(now):
                    failures += 1
            # Readable = the server closed the connection or answered it: reopen it next round.
            for key, _ in sel.select(timeout=0.1):
                sock = key.fileobj
                try:
                    sock.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    pass
                stats["closed_by_server"] += 1
                drop(sock)
            now = time.monotonic()
            for sock, due in list(conns.items()):
                if due <= now:
                    try:
                        sock.send(b"a")
                        conns[sock] = now + args.interval
                    except OSError:  # reset, broken pipe, or send buffer full
                        stats["closed_by_server"] += 1
                        drop(sock)
            if now >= next_report:
                stats["open"] = len(conns)
                stats["elapsed_s"] = round(now - start, 1)
                if not ready and len(conns) == args.connections:
                    ready = True
                    print("READY", flush=True)
                print(json.dumps(stats), flush=True)
                next_report = now + 1.0
    except Stop:
        pass
    finally:
        for sock in list(conns):
            sock.close()
    stats["open"] = 0
    stats["elapsed_s"] = round(time.monotonic() - start, 1)
    print(json.dumps(stats), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
