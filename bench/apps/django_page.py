"""The django workload: a Django page through the full default middleware stack of
``startproject`` (security, sessions, common, CSRF, auth, messages, clickjacking), one SQL
query on SQLite through Django's connection, and a template rendering 20 rows.

The project is ``djangopage/`` beside this file; the database is bench/out/bench.sqlite3
(made by bench/apps/benchdb.py).
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djangopage.settings")

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
