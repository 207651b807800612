# The shape of the Django deployment guides' gunicorn.conf.py.
import multiprocessing

wsgi_app = "app:application"
bind = ["127.0.0.1:8001", "unix:app.sock"]
workers = multiprocessing.cpu_count() * 2 + 1
timeout = 120
graceful_timeout = 45
accesslog = "-"
errorlog = "-"
loglevel = "warning"
capture_output = True
max_requests = 1000
max_requests_jitter = 50
preload_app = True
