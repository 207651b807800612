"""Sample a server's process tree from /proc: CPU time and memory of the master and every
descendant (workers, and anything they fork).

    python3 bench/procstat.py PID   ->  one JSON object on stdout

CPU is utime+stime of every live process in the tree plus cutime+cstime (CPU of children it
has already reaped, e.g. a worker that was replaced), so a before/after difference counts
every process exactly once. Memory is summed VmRSS (shared pages are counted once per
process, as `ps` does) and summed Pss (shared pages split between their users), both in KiB.
"""

import json
import os
import sys

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


def sample(root):
    cpu, rss, pss, alive = 0, 0, 0, []
    for pid in tree(root):
        try:
            cpu += cpu_ticks(pid)
        except OSError:  # exited between listing and reading
            continue
        alive.append(pid)
        rss += status_kb(pid, "status", "VmRSS")
        pss += status_kb(pid, "smaps_rollup", "Pss")
    return {"pids": alive, "cpu_s": cpu / CLK_TCK, "rss_kb": rss, "pss_kb": pss}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    root = int(sys.argv[1])
    if not os.path.exists(f"/proc/{root}"):
        sys.exit(f"procstat: no process {root}")
    print(json.dumps(sample(root)))
