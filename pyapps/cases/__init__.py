"""Test-only WSGI apps used by the integration tests in ``tests/``.

Each module is small and targets one part of PEP 3333 or the server's contract; the demo
apps live one directory up.
"""
