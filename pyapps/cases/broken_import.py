"""A module that cannot be imported: the server must print the traceback and exit."""

raise RuntimeError("rsgi-test-import-failure")
