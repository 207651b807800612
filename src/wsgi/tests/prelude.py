"""The start of every unit-test app module: what the tests observe the app through."""

import io
import sys

# What the app and its body did, in order, for the test to assert on.
events = []


class Body:
    """A response iterable that records how far it was iterated and its close()."""

    def __init__(self, chunks, fail_at=None, close_raises=False):
        self.chunks = list(chunks)
        self.fail_at = fail_at
        self.close_raises = close_raises

    def __iter__(self):
        for i, chunk in enumerate(self.chunks):
            if i == self.fail_at:
                events.append(f"raise {i}")
                raise RuntimeError(f"failed at chunk {i}")
            events.append(f"yield {i}")
            yield chunk

    def close(self):
        events.append("close")
        if self.close_raises:
            raise RuntimeError("close failed")


def record(fn, *args):
    """Calls fn(*args) and records the name of what it raised, or "ok"."""
    try:
        fn(*args)
    except Exception as e:
        events.append(type(e).__name__)
    else:
        events.append("ok")
