"""A local front for this machine's package index whose JSON API gives pypi.org's file URLs.

Test and benchmark set-up only (never in the template). This machine's pypi.org mirror
serves the simple index with absolute `https://files.pythonhosted.org/...` file links, as
pypi.org does, but its JSON API (`/pypi/<name>/json`) with relative ones
(`../../packages/packages/...`). pip-tools takes a wheel's hash from the JSON API only
when the JSON file URL equals the simple index's link; on a mismatch it downloads and
hashes every file of every pinned version, which pypi.org's users never pay. Through
this front, `pip-compile --generate-hashes` does what it does against pypi.org, and its
hashes are identical (the simple index's `#sha256=` fragments match the JSON digests).

Usage: `with pypi_json.serving() as index_url:` (or `started()`, one front for the whole
process), then give pip that index (PIP_INDEX_URL). pip-compile writes a non-default
index into the files it writes (unless told `--no-emit-index-url`), so a lock made
through the front names it until `forget` takes that line out again (tests/lockers.py
does, after each lock): the files are then what pip-compile writes against pypi.org.
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import http.server
import re
import threading
from collections.abc import Iterator

UPSTREAM = "pypi.org"
FILES = "https://files.pythonhosted.org/packages/"
# The mirror's JSON file URLs: `../../packages/packages/ab/cd/...` (relative to /pypi/x/json
# or /pypi/x/1.0/json, so with one more `../`).
_RELATIVE = re.compile(rb'"url": ?"(?:\.\./)+packages/packages/')
_FORWARDED = {"accept", "user-agent", "if-none-match", "if-modified-since"}
_RETURNED = ("Content-Type", "ETag", "Last-Modified", "Cache-Control")
# One upstream connection per handler thread (one per client connection), kept open, as
# pip's own session keeps its connections: the front adds no TLS handshake per request.
_upstream = threading.local()


def _fetch_once(path: str, headers: dict[str, str]) -> tuple[int, http.client.HTTPMessage, bytes]:
    connection = getattr(_upstream, "connection", None)
    if connection is None:
        connection = _upstream.connection = http.client.HTTPSConnection(UPSTREAM, timeout=120)
    try:
        connection.request("GET", path, headers={**headers, "Accept-Encoding": "gzip"})
        response = connection.getresponse()
        body = response.read()
    except (OSError, http.client.HTTPException):
        connection.close()
        _upstream.connection = None
        raise
    if response.headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    return response.status, response.headers, body


def _fetch(path: str, headers: dict[str, str]) -> tuple[int, http.client.HTTPMessage, bytes]:
    """GET `path` from the index (gzip on the wire, served decompressed)."""
    try:
        return _fetch_once(path, headers)
    except (OSError, http.client.HTTPException):
        return _fetch_once(path, headers)  # a kept-alive connection the index closed


class _Front(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        wanted = {key: value for key, value in self.headers.items() if key.lower() in _FORWARDED}
        status, headers, body = _fetch(self.path, wanted)
        if self.path.startswith("/pypi/"):
            body = _RELATIVE.sub(b'"url":"' + FILES.encode(), body)
        self.send_response(status)
        for key in _RETURNED:
            if headers.get(key):
                self.send_header(key, headers[key])
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def serving() -> Iterator[str]:
    """Run the front on a free local port; yield its simple index URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Front)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple/"
    finally:
        server.shutdown()
        server.server_close()


# This process's front: kept referenced, as a context manager that is collected would shut
# its server down. Its thread is a daemon: it ends with the process.
_process_front = contextlib.ExitStack()
_started: list[str] = []


def started() -> str:
    """The simple index URL of this process's front, started on first use."""
    if not _started:
        _started.append(_process_front.enter_context(serving()))
    return _started[0]


def forget(text: str, index_url: str) -> str:
    """A file pip-compile wrote through the front, without the line that names it."""
    line = f"--index-url {index_url}\n"
    return text.replace(line, "", 1)
