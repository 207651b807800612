"""Sample a server's process tree from /proc: CPU time and memory of the master and every
descendant (workers, and anything they fork).

    python3 bench/procstat.py PID          ->  one JSON object on stdout
    python3 bench/procstat.py --watch S PID
        samples every S seconds until SIGTERM/SIGINT (or until PID is gone), then prints one
        JSON object with the peaks: {"samples", "peak_rss_kb", "peak_worker_rss_kb",
        "peak_max_worker_rss_kb", "first": sample, "last": sample}

CPU is utime+stime of every live process in the tree plus cutime+cstime (CPU of children it
has already reaped, e.g. a worker that was replaced), so a before/after difference counts
every process exactly once. Memory is summed VmRSS (shared pages are counted once per
process, as `ps` does) and summed Pss (shared pages split between their users), both in KiB.
"worker_rss_kb" is the mean VmRSS of the processes below the master (its workers; 0 if it
has none) and "max_worker_rss_kb" the largest of them.
"""

import json
import os
import signal
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def children(pid):
    """Direct children of pid, from every thread's children list (Linux >= 3.5)."""
    kids = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return kids
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids.extend(int(k) for k in f.read().split())
        except OSError:
            pass
    return kids


def tree(root):
    """root and all its descendants, parents first."""
    pids, todo = [], [root]
    while todo:
        pid = todo.pop(0)
        if pid not in pids:
            pids.append(pid)
            todo.extend(children(pid))
    return pids


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    # Field 2 (comm) may contain spaces and parentheses; everything after the last ")" is
    # fields 3.. so utime, stime, cutime, cstime (fields 14-17) are at offsets 11-14.
    fields = stat[stat.rindex(")") + 2 :].split()
    return sum(int(x) for x in fields[11:15])


def status_kb(pid, path, key):
    try:
        with open(f"/proc/{pid}/{path}") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def sample(root, pss=True):
    cpu, rss_sum, pss_sum, alive, workers = 0, 0, 0, [], []
    for pid in tree(root):
        try:
            cpu += cpu_ticks(pid)
        except OSError:  # exited between listing and reading
            continue
        alive.append(pid)
        rss = status_kb(pid, "status", "VmRSS")
        rss_sum += rss
        if pid != root:
            workers.append(rss)
        if pss:
            pss_sum += status_kb(pid, "smaps_rollup", "Pss")
    return {
        "pids": alive,
        "cpu_s": cpu / CLK_TCK,
        "rss_kb": rss_sum,
        "pss_kb": pss_sum,
        "worker_rss_kb": sum(workers) / len(workers) if workers else 0,
        "max_worker_rss_kb": max(workers, default=0),
    }


class Stop(Exception):
    pass


def watch(root, interval):
    def stop(signum, frame):
        raise Stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    first = last = None
    n = peak = peak_worker = peak_max_worker = 0
    try:
        while os.path.exists(f"/proc/{root}"):
            s = sample(root, pss=False)  # smaps_rollup walks every mapping: too slow here
            first = first or s
            last = s
            n += 1
            peak = max(peak, s["rss_kb"])
            peak_worker = max(peak_worker, s["worker_rss_kb"])
            peak_max_worker = max(peak_max_worker, s["max_worker_rss_kb"])
            time.sleep(interval)
    except Stop:
        pass
    return {"samples": n, "peak_rss_kb": peak, "peak_worker_rss_kb": peak_worker,
            "peak_max_worker_rss_kb": peak_max_worker, "first": first, "last": last}


if __name__ == "__main__":
    args = sys.argv[1:]
    interval = None
    if len(args) == 3 and args[0] == "--watch":
        interval = float(args[1])
        args = args[2:]
    if len(args) != 1:
        sys.exit(__doc__)
    root = int(args[0])
    if not os.path.exists(f"/proc/{root}"):
        sys.exit(f"procstat: no process {root}")
    print(json.dumps(sample(root) if interval is None else watch(root, interval)), flush=True)
