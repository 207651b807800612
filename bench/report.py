"""Turn bench/out/results.jsonl (one line per server x workload, written by bench/run.sh)
into the Markdown report bench/RESULTS.md, on stdout."""

import argparse
import datetime
import json
import math
import statistics
import os
import platform

WORKLOAD_TEXT = {
    "hello": 'GET, a 14-byte body ("Hello, World!\\n"), connections kept alive',
    "hello-close": "the same with `Connection: close` on every request, so one connection per request",
    "big": "GET, a 65536-byte body sent as one chunk",
    "stream": "GET, 1 MiB streamed as 64 yields of 16 KiB with no Content-Length",
    "echo": "POST of 1 MiB (`bench/wrk-echo.lua`), read from `wsgi.input` and sent back",
    "sleep": "GET, the app sleeps 10 ms and answers hello (threaded servers get {wt} threads per worker)",
    "slowloris": "hello while {slow} slowloris connections (`bench/slowloris.py`) are held open",
    "hello-tls": "hello over HTTPS (TLS 1.3, a P-256 certificate), connections kept alive; bjoern has no TLS",
    "stream-1g": "one curl reads 1 GiB streamed as 65536 x 16 KiB; RSS of the server tree before, peak (sampled every 0.25 s), after",
    "static-1k": "GET of a 1 KiB file under /static/, served without Python (rsgi `--static-map`, nginx `alias`, granian `--static-path-mount`) or by WhiteNoise under gunicorn",
    "static-64k": "the same with a 64 KiB file",
    "django": "a Django page (`bench/apps/django_page.py`): startproject's full default middleware stack, one SQL query on SQLite through Django's connection, a template rendering 20 rows (1,708 bytes), connections kept alive",
    "flask": "a Flask JSON view (`bench/apps/flask_json.py`): a SQLite query of 20 rows, `jsonify` (913 bytes), connections kept alive",
}
# The realistic pages: their rows also get the app's own CPU per request (in-process,
# bench/appcost.py) and the server's share of the CPU per request.
PAGES = ("django", "flask")
SERVER_TEXT = {
    "rsgi": "rsgi-server",
    "rsgi-close": "rsgi-server with `--keep-alive 0`",
    "rsgi-log": "rsgi-server with `--access-logfile FILE` (default format)",
    "rsgi-json": "rsgi-server with `--access-logfile FILE --log-format json`",
    "rsgi-wheel": "rsgi-server pip-installed from its wheel (the venv's python runs it)",
    "gunicorn": "gunicorn, sync workers",
    "gthread": "gunicorn, gthread workers",
    "whitenoise": "gunicorn (sync) serving the app wrapped in WhiteNoise (static workloads only)",
    "rsgi-uwsgi": "nginx `uwsgi_pass` (stock `uwsgi_params`) to rsgi-server on a Unix socket (CPU and RSS of both)",
    "rsgi-proxy": "nginx `proxy_pass` (upstream keep-alive) to rsgi-server on a Unix socket (CPU and RSS of both)",
    "uwsgi-uwsgi": "nginx `uwsgi_pass` (stock `uwsgi_params`) to uWSGI on a Unix socket (CPU and RSS of both)",
    "gunicorn-proxy": "nginx `proxy_pass` to gunicorn (sync) on a Unix socket (CPU and RSS of both)",
    "granian": "granian `--interface wsgi`",
    "bjoern": "bjoern, forked by `bench/prefork_launcher.py`",
    "meinheld": "meinheld, forked by `bench/prefork_launcher.py`",
    "pyruvate": "pyruvate, one thread per process, forked by `bench/prefork_launcher.py` (no keep-alive: see there)",
    "uwsgi": "uWSGI `--http11-socket` (its own HTTP/1.1 server, keep-alive), `--master`; a worker "
             "serves one connection at a time and keeps it, so under wrk's keep-alive load all but "
             "one connection per worker wait unaccepted in the listen queue for the whole run "
             "(`ss -ltn` shows them); wrk times only answered requests, so uWSGI's p50/p99 describe "
             "those few connections and are left out of the p99 target",
    "nginx": "nginx `return 200` (no Python)",
}
# Flat RSS while streaming 1 GiB: the server tree may grow by at most this much.
FLAT_RSS_MIB = 8


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def mem_total_gib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    return 0.0


def figures(r):
    """The figures of one successful row, or None."""
    if r["status"] != "ok" or not r.get("after") or not r.get("before"):
        return None
    peak = r.get("peak") or {}
    after = r["after"]
    f = {
        "cpu_s": r["after"]["cpu_s"] - r["before"]["cpu_s"],
        # Peak over the run when the sampler worked, else the sample after the run.
        "rss_mib": max(peak.get("peak_rss_kb", 0), after["rss_kb"]) / 1024,
        "worker_rss_mib": max(peak.get("peak_worker_rss_kb", 0), after.get("worker_rss_kb", 0)) / 1024,
        "pss_mib": after["pss_kb"] / 1024,
        "procs": len(after["pids"]),
        "keepalive": r.get("keepalive", "?"),
    }
    if r["workload"] == "stream-1g":
        s = r.get("stream") or {}
        f["seconds"] = s.get("seconds", float("nan"))
        f["mib_s"] = s.get("bytes", 0) / 1048576 / f["seconds"] if f["seconds"] else float("nan")
        f["rss_before_mib"] = r["before"]["rss_kb"] / 1024
        f["rss_after_mib"] = after["rss_kb"] / 1024
        f["growth_mib"] = f["rss_mib"] - f["rss_before_mib"]
        return f
    w = r.get("wrk")
    if not w:
        return None
    n = w["requests"]
    socket_errors = w["err_connect"] + w["err_read"] + w["err_write"] + w["err_timeout"]
    f.update({
        "rps": n / (w["duration_us"] / 1e6),
        "p50_ms": w["p50_us"] / 1000,
        "p99_ms": w["p99_us"] / 1000,
        "non2xx": w["err_status"],
        "socket": socket_errors,
        "errors": socket_errors + w["err_status"],
        "socket_detail": "connect {err_connect}, read {err_read}, write {err_write}, "
        "timeout {err_timeout}".format(**w),
        "cpu_us": f["cpu_s"] / n * 1e6 if n else None,
        "requests": n,
    })
    if r.get("app_cost"):
        f["app_us"] = r["app_cost"]["app_us"]
    return f


SUMMED = ("errors", "socket", "non2xx", "requests")


def combine(figs):
    """One figure set from several rounds of the same server and workload: the median of each
    measured figure, except counts of errors and requests, which are summed (zero errors
    must hold in every round). None if no round succeeded."""
    figs = [f for f in figs if f is not None]
    if not figs:
        return None
    if len(figs) == 1:
        return dict(figs[0], rounds=1)
    out = dict(figs[-1])
    for key, value in figs[-1].items():
        if key in SUMMED:
            out[key] = sum(f[key] for f in figs)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            vals = [f[key] for f in figs if f.get(key) is not None]
            if vals:
                out[key] = statistics.median(vals)
    details = [f["socket_detail"] for f in figs if f.get("socket")]
    if details:
        out["socket_detail"] = " / ".join(details)
    out["rounds"] = len(figs)
    out["per_round"] = figs
    return out


def ratio(a, b):
    if a is None or b is None or not b or math.isnan(a) or math.isnan(b):
        return "n/a"
    return f"{a / b:.2f}x"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--command", required=True)
    ap.add_argument("--param", action="append", default=[])
    ap.add_argument("--version", action="append", default=[])
    ap.add_argument("--nginx-conf")
    ap.add_argument("--note", default="")
    ap.add_argument("--app-cost", help="bench/appcost.py lines (with workload and round), one a line")
    args = ap.parse_args()
    app_us, per = {}, {}  # workload -> the app's own CPU µs per request: median, every one
    if args.app_cost and os.path.exists(args.app_cost):
        for line in open(args.app_cost):
            if line.strip():
                a = json.loads(line)
                per.setdefault(a["workload"], []).append(a["app_us"])
        app_us = {w: statistics.median(v) for w, v in per.items()}

    rows = [json.loads(line) for line in open(args.results) if line.strip()]
    params = dict(p.split("=", 1) for p in args.param)
    versions = dict(v.split("=", 1) for v in args.version)
    servers = list(dict.fromkeys(r["server"] for r in rows))
    workloads = list(dict.fromkeys(r["workload"] for r in rows))
    # Several rounds of one server and workload: `row` keeps the last (for its command line
    # and slowloris counts), `fig` the median over the rounds that succeeded.
    by_key = {}
    for r in rows:
        by_key.setdefault((r["server"], r["workload"]), []).append(r)
    row = {k: rs[-1] for k, rs in by_key.items()}
    fig = {k: combine([figures(r) for r in rs]) for k, rs in by_key.items()}
    rounds = int(params.get("rounds", "1"))
    partly_failed = [
        f"{s}/{w}: round {r.get('round', '?')}: {r.get('reason') or 'no figures'}"
        for (s, w), rs in by_key.items() for r in rs
        if figures(r) is None and fig[(s, w)] is not None
    ]
    wrk_workloads = [w for w in workloads if w != "stream-1g"]
    workers = int(params["workers"])
    wt = int(params["worker_threads"])

    def get(s, w, key):
        f = fig.get((s, w))
        return None if f is None else f.get(key)

    out = []
    p = out.append
    p("# Benchmark: rsgi-server vs gunicorn, granian, uWSGI, bjoern, meinheld, pyruvate and nginx")
    p("")
    p("Generated by `bench/run.sh`; do not edit by hand. All servers ran in the same run, on")
    p("the same machine, one after the other, with the same apps, worker count and load.")
    p("")
    if args.note:
        p(f"> **Note:** {args.note}")
        p("")
    p(f"- Command: `{args.command}`")
    p(f"- Date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}"
      f" (the run took {params.get('elapsed', '?')} s)")
    p(
        f"- Machine: {os.cpu_count()} CPUs (nproc), {cpu_model()}, "
        f"{mem_total_gib():.1f} GiB RAM, {platform.system()} {platform.release()}"
    )
    p(
        f"- Load average (1, 5, 15 min) at start -> end: {params.get('loadavg', '?')}; other "
        "processes on the machine compete for the same cores."
    )
    for name in ("rsgi-server", "gunicorn", "granian", "uWSGI", "bjoern", "meinheld", "pyruvate",
                 "nginx", "Django", "Flask", "python", "wrk"):
        if name in versions:
            p(f"- {name}: {versions[name]}")
    p(
        f"- Load: `wrk -t{params['threads']} -c{params['connections']} -d{params['duration']} "
        f"--timeout {params['timeout']} --latency` on 127.0.0.1, after a "
        f"{params['warmup']} warm-up with the same settings; {workers} workers per server. "
        "wrk runs on the same cores as the servers."
    )
    p("- Servers: " + "; ".join(f"`{s}`: {SERVER_TEXT.get(s, s)}" for s in servers) + ".")
    p("- Workloads:")
    for w in workloads:
        p(f"  - `{w}`: " + WORKLOAD_TEXT[w].format(wt=wt, slow=params.get("slowloris", "?")) + ".")
    if rounds > 1:
        p(f"- Rounds: {rounds}. Every server and workload ran once per round, rounds outermost, so a")
        p("  slow spell of the machine hits the servers alike. Each figure below is the median over")
        p("  the rounds (errors and requests are summed); every round's requests/s and CPU per")
        p("  request are listed under \"Rounds\".")
    p("")
    p("Server command lines (PORT is a free port picked per run) and load commands:")
    p("")
    for r in row.values():
        p(f"- {r['server']}/{r['workload']}: `{r['command']}` (stop: {r['stop']}); "
          f"load: `{r.get('wrk_command') or '-'}`")
    p("")
    if args.nginx_conf and os.path.exists(args.nginx_conf):
        p("<details><summary>nginx.conf (generated by bench/run.sh)</summary>")
        p("")
        p("```nginx")
        p(open(args.nginx_conf).read().rstrip())
        p("```")
        p("")
        p("</details>")
        p("")

    p("## Results")
    p("")
    p("RSS is the peak over the measured run of the summed VmRSS of master + workers; RSS per")
    p("worker is the peak of the workers' mean VmRSS; PSS is the tree's after the run.")
    p("")
    p(
        "| Workload | Server | Keep-alive | Requests/s | p50 ms | p99 ms | Errors "
        "| CPU µs/request | RSS MiB | RSS/worker MiB | PSS MiB | Processes |"
    )
    p("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    failures = []
    for w in wrk_workloads:
        for s in servers:
            r = row.get((s, w))
            if r is None:
                continue
            f = fig[(s, w)]
            if f is None:
                p(f"| {w} | {s} | | **FAILED** | | | | | | | | |")
                failures.append(f"{s}/{w}: {r.get('reason') or 'no figures'}")
                continue
            errs = f"{f['errors']}" if not f["errors"] else f"**{f['errors']}** ({f['non2xx']} non-2xx)"
            cpu = "n/a" if f["cpu_us"] is None else f"{f['cpu_us']:.1f}"
            rate = f"{f['rps']:,.0f}" if f["requests"] else "**0**"
            p(
                f"| {w} | {s} | {f['keepalive']} | {rate} | {f['p50_ms']:.2f} | {f['p99_ms']:.2f} "
                f"| {errs} | {cpu} | {f['rss_mib']:.1f} | {f['worker_rss_mib']:.1f} "
                f"| {f['pss_mib']:.1f} | {f['procs']} |"
            )
    p("")
    failures += partly_failed
    if failures:
        p("Failed rows:")
        p("")
        for line in failures:
            p(f"- {line}")
        p("")
    socket_rows = [(s, w, f) for (s, w), f in fig.items() if f and f.get("socket")]
    if socket_rows:
        p("Socket errors in detail: " + "; ".join(
            f"{s}/{w}: {f['socket_detail']}" for s, w, f in socket_rows) + ".")
        p("")

    pages = [w for w in PAGES if w in wrk_workloads]
    if pages:
        p("## Realistic pages: the server's share")
        p("")
        p("App µs/request: the application's own CPU per request, calling it in-process with a")
        p("prebuilt environ and no server (`bench/appcost.py`), measured right before each")
        p("server's run (CPU time per call moves with the machine's load; median over the")
        p("rounds). Server share: 1 - app / the server's CPU per request: the part of its CPU")
        p("that is not the application's own work (parsing, the environ, the response, the event")
        p("loop, the kernel's socket work charged to the server, and any slowdown of the app")
        p("itself under the server).")
        p("")
        p("| Workload | Server | Requests/s | p99 ms | CPU µs/request | App µs/request | Server µs/request | Server share |")
        p("|---|---|--:|--:|--:|--:|--:|--:|")
        for w in pages:
            for s in servers:
                f = fig.get((s, w))
                if (s, w) not in row:
                    continue
                if f is None:
                    p(f"| {w} | {s} | **FAILED** | | | | | |")
                    continue
                cpu = f["cpu_us"]
                a = f.get("app_us", app_us.get(w))
                if a is None or cpu is None:
                    share = own = app = "n/a"
                else:
                    app, own, share = f"{a:,.0f}", f"{cpu - a:,.0f}", f"{1 - a / cpu:.1%}"
                p(f"| {w} | {s} | {f['rps']:,.0f} | {f['p99_ms']:.1f} | "
                  f"{'n/a' if cpu is None else f'{cpu:,.0f}'} | {app} | {own} | {share} |")
        spread = {w: (min(v), max(v)) for w, v in per.items()} if app_us else {}
        if spread:
            p("")
            p("App µs/request over the run, lowest to highest: " + "; ".join(
                f"{w} {lo:,.0f} to {hi:,.0f}" for w, (lo, hi) in spread.items()) + ".")
        p("")

    if "stream-1g" in workloads:
        p("## Streaming 1 GiB (RSS)")
        p("")
        p("| Server | MiB/s | CPU s | RSS before MiB | RSS peak MiB | RSS after MiB | Growth MiB |")
        p("|---|--:|--:|--:|--:|--:|--:|")
        for s in servers:
            r = row.get((s, "stream-1g"))
            if r is None:
                continue
            f = fig[(s, "stream-1g")]
            if f is None:
                p(f"| {s} | **FAILED**: {r.get('reason') or 'no figures'} | | | | | |")
                continue
            p(f"| {s} | {f['mib_s']:,.0f} | {f['cpu_s']:.2f} | {f['rss_before_mib']:.1f} | {f['rss_mib']:.1f} "
              f"| {f['rss_after_mib']:.1f} | {f['growth_mib']:+.1f} |")
        p("")

    if "slowloris" in workloads:
        p("## Slowloris")
        p("")
        p("Throughput of hello while the slow connections are held open, against the same")
        p("server's clean `hello` run. Slow connections open: as counted by the client just")
        p("before and just after the measured run; reopened: how many it had to reopen during the")
        p("run because the server closed them (a header timeout does).")
        p("")
        p("| Server | Clean hello req/s | Under slowloris req/s | Ratio | Errors | Slow conns open | Reopened |")
        p("|---|--:|--:|--:|--:|--:|--:|")
        for s in servers:
            r = row.get((s, "slowloris"))
            if r is None:
                continue
            f = fig[(s, "slowloris")]
            if f is None:
                p(f"| {s} | | **FAILED** | | | | |")
                continue
            sb, sa = r.get("slowloris_before") or {}, r.get("slowloris_after") or {}
            clean = get(s, "hello", "rps")
            errs = f["errors"] if f["requests"] else f"{f['errors']} (no response at all)"
            p(f"| {s} | {clean or float('nan'):,.0f} | {f['rps']:,.0f} | {ratio(f['rps'], clean)} "
              f"| {errs} | {sb.get('open', '?')} -> {sa.get('open', '?')} "
              f"| {sa.get('opened', 0) - sb.get('opened', 0) if sa and sb else '?'} |")
        p("")

    baselines = [b for b in ("gunicorn", "bjoern") if b in servers]
    if baselines:
        p("## Ratios")
        p("")
        p("Throughput: higher is better for the server in the row. CPU per request and RSS per")
        p("worker: lower is better. nginx is the ceiling on the workloads it runs.")
        p("")
        p("| Workload | Server | Req/s vs gunicorn | Req/s vs bjoern | Req/s vs nginx "
          "| CPU/req vs gunicorn | CPU/req vs bjoern | RSS/worker vs gunicorn |")
        p("|---|---|--:|--:|--:|--:|--:|--:|")
        for w in wrk_workloads:
            for s in servers:
                if s == "nginx" or fig.get((s, w)) is None:
                    continue
                p(
                    f"| {w} | {s} | {ratio(get(s, w, 'rps'), get('gunicorn', w, 'rps'))} "
                    f"| {ratio(get(s, w, 'rps'), get('bjoern', w, 'rps'))} "
                    f"| {ratio(get(s, w, 'rps'), get('nginx', w, 'rps'))} "
                    f"| {ratio(get(s, w, 'cpu_us'), get('gunicorn', w, 'cpu_us'))} "
                    f"| {ratio(get(s, w, 'cpu_us'), get('bjoern', w, 'cpu_us'))} "
                    f"| {ratio(get(s, w, 'worker_rss_mib'), get('gunicorn', w, 'worker_rss_mib'))} |"
                )
        p("")

    if rounds > 1:
        p("## Rounds")
        p("")
        p("Requests/s and CPU µs per request of every round, in round order; the tables above")
        p("show their medians.")
        p("")
        p("| Workload | Server | Requests/s by round | CPU µs/request by round |")
        p("|---|---|---|---|")
        for w in wrk_workloads:
            for s in servers:
                f = fig.get((s, w))
                if f is None:
                    continue
                each = f.get("per_round") or [f]
                p(f"| {w} | {s} | " + ", ".join(f"{x['rps']:,.0f}" for x in each) + " | "
                  + ", ".join("n/a" if x["cpu_us"] is None else f"{x['cpu_us']:.1f}" for x in each) + " |")
        p("")

    if "rsgi" in servers:
        p("## Targets (rsgi-server)")
        p("")
        p("Each target of the issue, checked against this run. \"not measured\" means a row it")
        p("needs failed or was not run.")
        p("")
        targets = []

        def per_workload(key, other, better, fmt, limit=1.0):
            """rsgi's figure vs other's on every wrk workload both ran."""
            parts, bad, missing = [], [], []
            for w in wrk_workloads:
                if (other, w) not in row and ("rsgi", w) not in row:
                    continue
                if w.startswith("static-") and other != "nginx":
                    # Only servers that serve files run these: bjoern and gunicorn do not.
                    continue
                a, b = get("rsgi", w, key), get(other, w, key)
                if a is None or b is None:
                    missing.append(w)
                    continue
                q = a / b if b else float("inf")
                ok = q <= limit if better == "lower" else q >= limit
                parts.append(f"{w} {fmt(a)} vs {fmt(b)} ({q:.2f}x{'' if ok else ', MISSED'})")
                if not ok:
                    bad.append(w)
            return parts, bad, missing

        def verdict(parts, bad, missing):
            if bad:
                v = "**NOT MET** (" + ", ".join(bad) + ")"
            elif not parts:
                v = "**not measured**"
            elif missing:
                v = "**met where measured** (not measured: " + ", ".join(missing) + ")"
            else:
                v = "**met**"
            if missing and bad:
                v += "; not measured: " + ", ".join(missing)
            return v

        us = lambda x: f"{x:.1f} µs"  # noqa: E731
        rps = lambda x: f"{x:,.0f}/s"  # noqa: E731
        mib = lambda x: f"{x:.1f} MiB"  # noqa: E731

        parts, bad, missing = per_workload("cpu_us", "bjoern", "lower", us)
        targets.append(("Server CPU per request at most bjoern's on every workload (the wrk ones)",
                        verdict(parts, bad, missing), parts))
        parts, bad, missing = per_workload("rps", "bjoern", "higher", rps)
        targets.append(("Every workload (the wrk ones) at least as fast as bjoern", verdict(parts, bad, missing), parts))

        a, b = get("rsgi", "hello", "rps"), get("nginx", "hello", "rps")
        if a is None or b is None:
            targets.append(("hello keep-alive at least 0.9x nginx", "**not measured**", []))
        else:
            targets.append(("hello keep-alive at least 0.9x nginx",
                            "**met**" if a >= 0.9 * b else "**NOT MET**",
                            [f"{rps(a)} vs nginx {rps(b)} = {a / b:.4f}x (need 0.9000x)"]))

        static = [w for w in wrk_workloads if w.startswith("static-")]
        if static:
            parts, bad, missing = per_workload("rps", "nginx", "higher", rps, limit=0.9)
            parts = [x for x in parts if x.startswith("static-")]
            bad = [w for w in bad if w.startswith("static-")]
            missing = [w for w in missing if w.startswith("static-")]
            targets.append(("Static files at least 0.9x nginx requests/s", verdict(parts, bad, missing), parts))
            parts, bad, missing = per_workload("cpu_us", "nginx", "lower", us, limit=1.1)
            parts = [x for x in parts if x.startswith("static-")]
            bad = [w for w in bad if w.startswith("static-")]
            missing = [w for w in missing if w.startswith("static-")]
            targets.append(("Static files at most 1.1x nginx's CPU per request", verdict(parts, bad, missing), parts))

        for w in pages:
            peers = [s for s in servers if s not in ("rsgi", "nginx") and not s.startswith("rsgi-")
                     and get(s, w, "cpu_us") is not None]
            ours = fig.get(("rsgi", w))
            name = (f"{w}: CPU per request below every peer's, requests/s at least the best peer's, "
                    "p99 no worse than the best peer's")
            if ours is None or not peers:
                targets.append((name, "**not measured**", []))
                continue
            best_cpu = min(peers, key=lambda s: get(s, w, "cpu_us"))
            best_rps = max(peers, key=lambda s: get(s, w, "rps"))
            # uWSGI's latency is that of the few connections it accepts (SERVER_TEXT).
            best_p99 = min([s for s in peers if s != "uwsgi"] or peers, key=lambda s: get(s, w, "p99_ms"))
            checks = [
                ("CPU", ours["cpu_us"] < get(best_cpu, w, "cpu_us"),
                 f"CPU {us(ours['cpu_us'])} vs {best_cpu} {us(get(best_cpu, w, 'cpu_us'))}"),
                ("requests/s", ours["rps"] >= get(best_rps, w, "rps"),
                 f"{rps(ours['rps'])} vs {best_rps} {rps(get(best_rps, w, 'rps'))}"),
                ("p99", ours["p99_ms"] <= get(best_p99, w, "p99_ms"),
                 f"p99 {ours['p99_ms']:.1f} ms vs {best_p99} {get(best_p99, w, 'p99_ms'):.1f} ms"),
            ]
            bad = [c for c, ok, _ in checks if not ok]
            targets.append((name, "**met**" if not bad else "**NOT MET** (" + ", ".join(bad) + ")",
                            [t for _, _, t in checks]))

        a, b = get("rsgi", "hello", "cpu_us"), get("nginx", "hello", "cpu_us")
        name = "hello CPU per request at most nginx's"
        if a is None or b is None:
            targets.append((name, "**not measured**", []))
        else:
            targets.append((name, "**met**" if a <= b else "**NOT MET**", [f"{us(a)} vs nginx {us(b)}"]))

        need = 0.95 * workers * wt / 0.010
        a = get("rsgi", "sleep", "rps")
        name = f"sleep at least 95% of workers x threads / 10 ms ({workers} x {wt} / 10 ms x 0.95 = {need:,.0f}/s)"
        if a is None:
            why = (row.get(("rsgi", "sleep")) or {}).get("reason")
            targets.append((name, "**not measured**", [why] if why else []))
        else:
            targets.append((name, "**met**" if a >= need else "**NOT MET**",
                            [f"{rps(a)} = {a / need * 0.95:.0%} of {workers * wt / 0.010:,.0f}/s"]))

        a, b = get("rsgi", "slowloris", "rps"), get("rsgi", "hello", "rps")
        e = get("rsgi", "slowloris", "errors")
        name = f"With {params.get('slowloris', '?')} slowloris connections: throughput at least 90% of the clean run, zero errors"
        if a is None or b is None:
            targets.append((name, "**not measured**", []))
        else:
            ok = a >= 0.9 * b and e == 0 and get("rsgi", "slowloris", "requests")
            targets.append((name, "**met**" if ok else "**NOT MET**",
                            [f"{rps(a)} vs clean {rps(b)} = {a / b:.4f}x (need 0.9000x)", f"{e} errors"]))

        parts, bad, missing = per_workload("worker_rss_mib", "gunicorn", "lower", mib)
        targets.append(("RSS per worker no more than gunicorn's (peak of the workers' mean, per workload)",
                        verdict(parts, bad, missing), parts))

        f = fig.get(("rsgi", "stream-1g"))
        name = f"Flat RSS while streaming 1 GiB (peak at most {FLAT_RSS_MIB} MiB above the start)"
        if f is None:
            targets.append((name, "**not measured**", []))
        else:
            ok = f["growth_mib"] <= FLAT_RSS_MIB
            targets.append((name, "**met**" if ok else "**NOT MET**",
                            [f"start {f['rss_before_mib']:.1f} MiB, peak {f['rss_mib']:.1f} MiB, "
                             f"end {f['rss_after_mib']:.1f} MiB ({f['growth_mib']:+.1f} MiB)"]))

        for name, v, parts in targets:
            p(f"- {name}: {v}")
            if parts:
                p("  - " + "; ".join(parts))
        p("")

    p("## How the figures are taken")
    p("")
    p("- Requests/s, p50, p99: wrk's own figures (`bench/wrk-report.lua` prints them from")
    p("  wrk's `done()` hook). Errors are wrk's connect, read, write and timeout errors plus")
    p("  responses outside 2xx/3xx.")
    p("- CPU µs/request: utime+stime of the master and every descendant (plus cutime+cstime,")
    p("  so reaped workers count too), read from `/proc/PID/stat` right before and right after")
    p("  the measured run (`bench/procstat.py`), divided by the requests wrk completed. It")
    p("  excludes the kernel's work on the client side and wrk's own CPU. On a shared machine")
    p("  it is much steadier than requests/s.")
    p("- RSS: VmRSS of the master and all workers summed, sampled every 0.5 s during the")
    p("  measured run (`bench/procstat.py --watch`) and right after it; the peak is reported.")
    p("  Pages shared between master and workers count once per process. PSS splits shared")
    p("  pages between the processes that share them, so its sum is the tree's real footprint.")
    p("- Keep-alive: whether the server kept the connection open for a second request")
    p("  (checked with curl before the run).")
    p("- Raw wrk output, slowloris status lines and server logs: `bench/out/` (not committed).")
    print("\n".join(out))


if __name__ == "__main__":
    main()
