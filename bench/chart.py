"""Draw a benchmark run as an SVG chart: requests/s and CPU µs per request, per workload
and server, from bench/out/results.jsonl (what bench/report.py reads).

    python bench/chart.py bench/out/results.jsonl -o bench/RESULTS.svg [--title T] [--command C]

One block per workload, one line per server, two bar panels side by side: requests/s
(longer is better) and CPU µs per request (shorter is better), each scaled to the largest
value of that workload, with the value printed at the bar's end. Figures are the medians
over the run's rounds, as in the report. rsgi-server's bars are coloured; failed rows are
marked. Plain SVG written by hand: no plotting library needed.
"""

import argparse
import html
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report import combine, figures  # noqa: E402

ROW = 18  # px per server line
LABEL_W = 110  # server names
PANEL_W = 330  # each bar panel
GAP = 100  # room for the value after a bar, between the panels
HEAD = 22  # a workload's title line
OURS, OTHERS, FAIL = "#d9480f", "#868e96", "#c92a2a"


def load(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    servers = list(dict.fromkeys(r["server"] for r in rows))
    workloads = [w for w in dict.fromkeys(r["workload"] for r in rows) if w != "stream-1g"]
    by_key = {}
    for r in rows:
        by_key.setdefault((r["server"], r["workload"]), []).append(r)
    fig = {k: combine([figures(r) for r in rs]) for k, rs in by_key.items()}
    rounds = max((r.get("round", 1) for r in rows), default=1)
    return servers, workloads, fig, rounds


def fmt_rps(x):
    return f"{x / 1000:.1f}k/s" if x >= 10000 else f"{x:,.0f}/s"


def fmt_us(x):
    return f"{x:,.0f} µs" if x >= 100 else f"{x:.1f} µs"


def wrap(text, limit):
    """TEXT in lines of at most LIMIT characters, broken at spaces."""
    lines, line = [], ""
    for word in text.split(" "):
        if line and len(line) + 1 + len(word) > limit:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return lines + [line] if line else lines


def draw(servers, workloads, fig, title, command, rounds):
    out = []
    e = out.append
    width = LABEL_W + 2 * (PANEL_W + GAP)
    x_rps = LABEL_W
    x_cpu = LABEL_W + PANEL_W + GAP
    command_lines = wrap(command, 150) if command else []
    top = 24 + 13 * len(command_lines)  # below the title and the command
    y = top + 40
    body = []
    for w in workloads:
        here = [s for s in servers if (s, w) in fig]
        if not here:
            continue
        body.append(f'<text x="4" y="{y + 14}" class="w">{html.escape(w)}</text>')
        y += HEAD
        rmax = max((fig[(s, w)]["rps"] for s in here if fig[(s, w)]), default=0) or 1
        cmax = max((fig[(s, w)]["cpu_us"] or 0 for s in here if fig[(s, w)]), default=0) or 1
        for s in here:
            f = fig[(s, w)]
            colour = OURS if s == "rsgi" or s.startswith("rsgi-") else OTHERS
            body.append(f'<text x="{LABEL_W - 6}" y="{y + 13}" class="s">{html.escape(s)}</text>')
            if f is None:
                body.append(f'<text x="{x_rps}" y="{y + 13}" fill="{FAIL}">failed</text>')
                y += ROW
                continue
            rw = max(f["rps"] / rmax * PANEL_W, 1)
            body.append(f'<rect x="{x_rps}" y="{y + 3}" width="{rw:.1f}" height="{ROW - 6}" fill="{colour}"/>')
            body.append(f'<text x="{x_rps + rw + 4:.1f}" y="{y + 13}">{fmt_rps(f["rps"])}</text>')
            if f["cpu_us"] is not None:
                cw = max(f["cpu_us"] / cmax * PANEL_W, 1)
                body.append(f'<rect x="{x_cpu}" y="{y + 3}" width="{cw:.1f}" height="{ROW - 6}" fill="{colour}"/>')
                body.append(f'<text x="{x_cpu + cw + 4:.1f}" y="{y + 13}">{fmt_us(f["cpu_us"])}</text>')
            y += ROW
        y += 8
    height = y + 24
    e(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
      f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">')
    e("<style>.w{font-weight:bold;font-size:12px}.s{text-anchor:end}.h{font-weight:bold}"
      ".t{font-size:12px}</style>")
    e(f'<rect width="{width}" height="{height}" fill="white"/>')
    e(f'<text x="4" y="16" class="t">{html.escape(title)}</text>')
    for i, line in enumerate(command_lines):
        e(f'<text x="4" y="{31 + 13 * i}" fill="#495057" font-family="monospace" font-size="10">'
          f"{html.escape(line)}</text>")
    median = f"median of {rounds} rounds" if rounds > 1 else "one round"
    e(f'<text x="{x_rps}" y="{top + 20}" class="h">Requests/s (longer is better; {median})</text>')
    e(f'<text x="{x_cpu}" y="{top + 20}" class="h">Server CPU µs per request (shorter is better)</text>')
    e(f'<line x1="{x_cpu - GAP / 2}" y1="{top + 6}" x2="{x_cpu - GAP / 2}" y2="{height - 20}" stroke="#dee2e6"/>')
    out.extend(body)
    e(f'<text x="4" y="{height - 6}" fill="#495057">Bars scaled per workload. '
      f'Generated by bench/chart.py from bench/out/results.jsonl (bench/run.sh).</text>')
    e("</svg>")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", help="bench/out/results.jsonl")
    ap.add_argument("-o", "--out", required=True, help="the SVG file to write")
    ap.add_argument("--title", default="bench/run.sh")
    ap.add_argument("--command", default="", help="the run's command line, printed under the title")
    args = ap.parse_args()
    servers, workloads, fig, rounds = load(args.results)
    svg = draw(servers, workloads, fig, args.title, args.command, rounds)
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        f.write(svg)
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
