# Twelve-factor: everything from the environment, with defaults.
import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", 2))
threads = int(os.getenv("PYTHON_THREADS", "4"))
worker_class = "gthread"
keepalive = int(os.environ.get("KEEPALIVE", "5"))
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")
raw_env = [f"DJANGO_SETTINGS_MODULE={os.environ.get('DJANGO_SETTINGS_MODULE', 'app.settings')}"]
