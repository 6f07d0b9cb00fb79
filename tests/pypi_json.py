"""A local front for this machine's package index whose JSON API gives pypi.org's file URLs.

Test and benchmark set-up only (never in the template). This machine's pypi.org mirror
serves the simple index with absolute `https://files.pythonhosted.org/...` file links, as
pypi.org does, but its JSON API (`/pypi/<name>/json`) with relative ones
(`../../packages/packages/...`). pip-tools takes a wheel's hash from the JSON API only
when the JSON file URL equals the simple index's link; on a mismatch it downloads and
hashes every file of every pinned version, which pypi.org's users never pay. Through
this front, `pip-compile --generate-hashes` does what it does against pypi.org, and its
hashes are identical (the simple index's `#sha256=` fragments match the JSON digests).

Usage: `with pypi_json.serving() as index_url:`, then give pip that index (PIP_INDEX_URL).
pip-compile writes a non-default index into the files it writes (unless told
`--no-emit-index-url`), so locks made through the front name it: only throw-away
projects (benchmarks/green.py) use it.
"""

from __future__ import annotations

import contextlib
import http.server
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator

UPSTREAM = "https://pypi.org"
FILES = "https://files.pythonhosted.org/packages/"
# The mirror's JSON file URLs: `../../packages/packages/ab/cd/...` (relative to /pypi/x/json
# or /pypi/x/1.0/json, so with one more `../`).
_RELATIVE = re.compile(rb'"url": ?"(?:\.\./)+packages/packages/')


class _Front(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        request = urllib.request.Request(
            UPSTREAM + self.path,
            headers={
                key: value
                for key, value in self.headers.items()
                if key.lower() in {"accept", "user-agent", "if-none-match", "if-modified-since"}
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                status, headers, body = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            status, headers, body = error.code, error.headers, error.read()
        if self.path.startswith("/pypi/"):
            body = _RELATIVE.sub(b'"url":"' + FILES.encode(), body)
        self.send_response(status)
        for key in ("Content-Type", "ETag", "Last-Modified", "Cache-Control"):
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
