"""The flask workload: a Flask JSON view reading 20 rows from SQLite (bench/apps/benchdb.py).

One connection per worker process, opened on first use (after the fork), as a Flask app
using a per-process connection would; the query runs on every request.
"""

import os
import sqlite3

from flask import Flask, jsonify

import benchdb

app = Flask(__name__)
_db = {}


def connection():
    pid = os.getpid()
    db = _db.get(pid)
    if db is None:
        db = sqlite3.connect(f"file:{benchdb.PATH}?mode=ro", uri=True, check_same_thread=False)
        _db.clear()
        _db[pid] = db
    return db


@app.get("/")
def items():
    rows = connection().execute(benchdb.QUERY, (10,)).fetchall()
    return jsonify(items=[{"id": i, "name": n, "price": p} for i, n, p in rows], count=len(rows))


application = app
