# A gunicorn.conf.py as deployments write them, read by rsgi-server as gunicorn reads it:
#
#   rsgi-server -c examples/gunicorn.conf.py
#
# It is executed (in a short-lived child process), so values may be computed; its names are
# gunicorn's settings (or rsgi-server's); its functions are server hooks. This one serves
# the bundled demo app when started from the repository root.
import multiprocessing
import os

_here = os.path.dirname(os.path.abspath(__file__))

wsgi_app = "hello:application"
chdir = os.path.join(_here, "..", "pyapps")
bind = f"127.0.0.1:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", min(2, multiprocessing.cpu_count())))
worker_class = "gthread"
threads = 2
keepalive = 5
timeout = 30
accesslog = "-"
loglevel = "info"
raw_env = ["APP_ENV=example"]


def when_ready(server):
    server.log.info("ready: %s workers", server.cfg.workers)


def post_fork(server, worker):
    worker.log.info("worker %s forked (age %s)", worker.pid, worker.age)
