"""The page: 20 rows read through Django's connection, rendered by a template."""

from django.db import connection
from django.shortcuts import render

import benchdb


def items(request):
    with connection.cursor() as cursor:
        cursor.execute(benchdb.QUERY.replace("?", "%s"), [10])
        rows = [{"id": i, "name": n, "price": p} for i, n, p in cursor.fetchall()]
    return render(request, "items.html", {"rows": rows, "title": "Items"})
