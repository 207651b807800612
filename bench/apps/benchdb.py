"""The SQLite database the django and flask workloads query: bench/out/bench.sqlite3.

    python bench/apps/benchdb.py        # (re)creates it; bench/run.sh does this once per run

One table, ``item`` (id, name, price), of 100 rows; the pages read 20 of them.
"""

import os
import sqlite3

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "out", "bench.sqlite3")
PATH = os.path.normpath(PATH)
QUERY = "SELECT id, name, price FROM item WHERE id > ? ORDER BY id LIMIT 20"


def create(path=PATH):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    if os.path.exists(tmp):
        os.unlink(tmp)
    db = sqlite3.connect(tmp)
    db.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL NOT NULL)")
    db.executemany(
        "INSERT INTO item (id, name, price) VALUES (?, ?, ?)",
        [(i, f"item {i} <{'abc'[i % 3]}>", i * 1.25) for i in range(1, 101)],
    )
    db.commit()
    db.close()
    os.replace(tmp, path)  # readers never see a half-made file


if __name__ == "__main__":
    create()
    print(PATH)
