"""A small Flask app: ``rsgi-server --virtualenv .venv flask_app:app``."""

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.get("/")
def index():
    return "Hello from Flask!\n"


@app.get("/json")
def as_json():
    return jsonify(path=request.path, args=request.args.to_dict(), script_root=request.script_root)


@app.post("/echo")
def echo():
    data = request.get_data()
    return jsonify(length=len(data), text=data.decode("utf-8", "replace")[:64])


@app.get("/missing")
def missing():
    return "nope\n", 404
