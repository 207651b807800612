"""Latency by status from a JSON access log written under bench/wrk-stamped.lua: each line's
`time` (the response complete) minus the send time the request carried in `?t=<unix µs>`.
Requests sent before `--skip` seconds into the run are left out (warm-up).

usage: overload.py ACCESS_LOG [SKIP_SECS]
prints one line: OVERLOAD_JSON {"200": {...}, "503": {...}, ...}
"""

import json
import sys
from datetime import datetime


def percentile(values, p):
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def main(path, skip):
    by_status = {}
    first = None
    for line in open(path, encoding="utf-8"):
        try:
            entry = json.loads(line)
            sent = int(entry["query"].split("t=")[1].split("&")[0])
        except (ValueError, KeyError, IndexError, AttributeError):
            continue
        done = datetime.fromisoformat(entry["time"]).timestamp() * 1e6
        first = sent if first is None else min(first, sent)
        by_status.setdefault(entry["status"], []).append((sent, (done - sent) / 1000))
    summary = {}
    for status, samples in sorted(by_status.items()):
        lat = sorted(ms for sent, ms in samples if sent >= first + skip * 1e6)
        if lat:
            summary[str(status)] = {
                "count": len(lat),
                "p50_ms": round(percentile(lat, 50), 1),
                "p90_ms": round(percentile(lat, 90), 1),
                "p99_ms": round(percentile(lat, 99), 1),
                "max_ms": round(lat[-1], 1),
            }
    print("OVERLOAD_JSON " + json.dumps(summary), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 2.0)
