"""Open-loop overload client for bench/overload.sh: CONNS keep-alive connections send GET /
on a fixed schedule totalling RATE requests per second for SECS seconds (each connection
has at most one request outstanding; a late one sends as soon as its previous response is
in). Latency is measured from the scheduled send time, as wrk2 does, so a server that falls
behind is charged for the wait it caused (no coordinated omission), and separately for 200s
and everything else (shed 503s), which a plain wrk summary mixes.

usage: overload.py PORT RATE SECS CONNS
prints one line: OVERLOAD_JSON {...}
"""

import asyncio
import json
import sys
import time


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    i = min(len(sorted_values) - 1, int(len(sorted_values) * p / 100))
    return sorted_values[i]


async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length, close = 0, False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and value.strip().lower() == "close":
            close = True
    if length:
        await reader.readexactly(length)
    return status, close


async def connection(port, start, interval, offset, end, results):
    request = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
    reader = writer = None
    n = 0
    while True:
        due = start + offset + n * interval
        if due >= end:
            break
        n += 1
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request)
            status, close = await read_response(reader)
        except (OSError, asyncio.IncompleteReadError):
            results.append((0, time.monotonic() - due))
            if writer is not None:
                writer.close()
            reader = writer = None
            continue
        results.append((status, time.monotonic() - due))
        if close:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def main(port, rate, secs, conns):
    results = []
    interval = conns / rate
    start = time.monotonic() + 0.2
    end = start + secs
    await asyncio.gather(
        *(
            connection(port, start, interval, i * interval / conns, end, results)
            for i in range(conns)
        )
    )
    summary = {"offered_rps": rate, "secs": secs, "conns": conns}
    for name, pick in (("ok", lambda s: s == 200), ("shed", lambda s: s == 503),
                       ("other", lambda s: s not in (200, 503))):
        lat = sorted(l for s, l in results if pick(s))
        summary[name] = {
            "count": len(lat),
            "p50_ms": round(percentile(lat, 50) * 1000, 1) if lat else None,
            "p99_ms": round(percentile(lat, 99) * 1000, 1) if lat else None,
            "max_ms": round(lat[-1] * 1000, 1) if lat else None,
        }
    print("OVERLOAD_JSON " + json.dumps(summary), flush=True)


if __name__ == "__main__":
    port, rate, secs, conns = (int(a) for a in sys.argv[1:5])
    asyncio.run(main(port, rate, secs, conns))
