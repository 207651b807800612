"""A TLS client for the tests, on Python's ``ssl`` module; prints one JSON object.

    tls_client.py PORT CA [options] -- TARGET...

Each TARGET is requested in turn on ONE connection (keep-alive) with ``http.client``; the
result lists each response's status, headers, body length and CRC-32 (and the body itself
when short), plus the negotiated TLS version, cipher, ALPN protocol, the server
certificate's SHA-256 and the local port. ``--raw BYTES`` (Python escapes, e.g. ``\\r\\n``)
sends those bytes in one write instead and reports everything read until the server closes.
``--preamble BYTES`` (Python escapes) is written on the plain TCP socket before the
handshake, as a PROXY protocol header is.
``--resume N`` then opens N more connections, each resuming the previous session, and
reports whether each did. A handshake or connection failure is reported as ``{"error": ...}``.
"""

import argparse
import hashlib
import http.client
import json
import socket
import ssl
import sys
import zlib

VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("ca")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--max-version", choices=VERSIONS)
    p.add_argument("--min-version", choices=VERSIONS)
    p.add_argument("--ciphers", help="OpenSSL cipher string for TLS 1.2")
    p.add_argument("--alpn", default="http/1.1", help="comma-separated; '' for none")
    p.add_argument("--method", default="GET")
    p.add_argument("--body-size", type=int, default=0, help="POST a body of this size")
    p.add_argument("--raw")
    p.add_argument("--preamble", help="bytes sent in the clear before the handshake")
    p.add_argument(
        "--resume",
        type=int,
        default=0,
        help="then N more connections, each resuming the previous one's session",
    )
    p.add_argument("targets", nargs="*")
    args = p.parse_intermixed_args()

    ctx = ssl.create_default_context(cafile=args.ca)
    if args.cert:
        ctx.load_cert_chain(args.cert, args.key)
    if args.max_version:
        ctx.maximum_version = VERSIONS[args.max_version]
    if args.min_version:
        ctx.minimum_version = VERSIONS[args.min_version]
    if args.ciphers:
        ctx.set_ciphers(args.ciphers)
    if args.alpn:
        ctx.set_alpn_protocols(args.alpn.split(","))

    out = {}
    try:
        raw = socket.create_connection((args.host, args.port), timeout=60)
        if args.preamble is not None:
            raw.sendall(args.preamble.encode("latin-1").decode("unicode_escape").encode("latin-1"))
        sock = ctx.wrap_socket(raw, server_hostname=args.host)
        out.update(
            version=sock.version(),
            cipher=sock.cipher()[0],
            alpn=sock.selected_alpn_protocol(),
            cert_sha256=hashlib.sha256(sock.getpeercert(binary_form=True)).hexdigest(),
            local_port=sock.getsockname()[1],
            subject_cn=dict(x[0] for x in sock.getpeercert()["subject"]).get("commonName"),
        )
        if args.raw is not None:
            sock.sendall(args.raw.encode("latin-1").decode("unicode_escape").encode("latin-1"))
            data = b""
            while True:
                try:
                    piece = sock.recv(65536)
                except (ConnectionResetError, ssl.SSLEOFError):
                    break
                if not piece:
                    break
                data += piece
            out["raw"] = data.decode("latin-1")
        else:
            conn = http.client.HTTPConnection(args.host, args.port)
            conn.sock = sock
            responses = []
            for target in args.targets:
                body = b"x" * args.body_size if args.body_size else None
                conn.request(args.method, target, body=body)
                resp = conn.getresponse()
                data = resp.read()
                entry = {
                    "status": resp.status,
                    "headers": {k.lower(): v for k, v in resp.getheaders()},
                    "length": len(data),
                    "crc32": zlib.crc32(data),
                }
                if len(data) <= 65536:
                    entry["body"] = data.decode("latin-1")
                responses.append(entry)
            out["responses"] = responses
        session = sock.session
        sock.close()
        reused = []
        for _ in range(args.resume):
            raw = socket.create_connection((args.host, args.port), timeout=60)
            sock = ctx.wrap_socket(raw, server_hostname=args.host, session=session)
            conn = http.client.HTTPConnection(args.host, args.port)
            conn.sock = sock
            conn.request("GET", "/")
            conn.getresponse().read()
            reused.append(sock.session_reused)
            session = sock.session
            sock.close()
        out["resumed"] = reused
    except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
    json.dump(out, sys.stdout)


main()
