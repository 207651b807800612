"""rsgi-server: a pre-fork WSGI (PEP 3333) application server written in Rust.

Run it as ``rsgi-server APP`` or ``python -m rsgi_server APP``; ``rsgi-server --help`` lists
the options. The server itself is the extension module ``rsgi_server._rsgi``.
"""

from ._rsgi import __version__

__all__ = ["__version__"]
