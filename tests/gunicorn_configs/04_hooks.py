# Server hooks as monitoring setups write them.
import os

proc_name = "shop"
workers = 3


def when_ready(server):
    server.log.info("Server is ready. Spawning workers")


def post_fork(server, worker):
    server.log.info("Worker spawned (pid: %s)", worker.pid)


def pre_request(worker, req):
    worker.log.debug("%s %s", req.method, req.path)


def worker_exit(server, worker):
    os.environ.pop("SOMETHING", None)
