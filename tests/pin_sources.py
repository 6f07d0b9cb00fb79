"""Local stand-ins for the sources requirements/pins.py asks: GitHub and PyPI.

- `GitHost(path)`: bare git repositories at `<path>/<owner>/<repo>`, reached as
  `file://<path>/<owner>/<repo>`: pass `file://<path>` as `--github-url`. Each release is
  a commit with a tag, lightweight or annotated, with the commit's and the tag's dates
  set, so the cooldown has something real to read.
- `PyPI(path)`: PyPI's JSON API (`/pypi/<name>/json`, with `releases`, upload times and
  `yanked`) as files served by `http.server` on a free port of 127.0.0.1.

Neither knows the tool's rules: a test says which releases exist and what it expects.
"""

from __future__ import annotations

import datetime as dt
import functools
import http.server
import json
import os
import re
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

GIT_ENV = {
    "GIT_AUTHOR_NAME": "upstream",
    "GIT_AUTHOR_EMAIL": "upstream@example.com",
    "GIT_COMMITTER_NAME": "upstream",
    "GIT_COMMITTER_EMAIL": "upstream@example.com",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}
NOW = dt.datetime.now(dt.UTC)


def ago(days: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


def _git(cwd: Path, *args: str, date: dt.datetime | None = None) -> str:
    env = {**os.environ, **GIT_ENV}
    if date is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = date.isoformat()
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


@dataclass
class Tag:
    """A release: tag `name` on a new commit made `commit_days` ago; annotated when
    `tag_days` is given (the tag object's own date)."""

    name: str
    commit_days: float = 400
    tag_days: float | None = None


class GitHost:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = path.as_uri()

    def repo(self, name: str, tags: list[Tag]) -> dict[str, str]:
        """Create `<owner>/<repo>` with the tags (oldest first); tag -> commit SHA."""
        work = self.path / ".work" / name
        work.mkdir(parents=True)
        _git(work, "init", "--quiet", "--initial-branch=main")
        commits = {}
        for tag in tags:
            (work / "release.txt").write_text(tag.name, encoding="utf-8")
            _git(work, "add", "release.txt")
            _git(work, "commit", "--quiet", "--message", tag.name, date=ago(tag.commit_days))
            commits[tag.name] = _git(work, "rev-parse", "HEAD")
            if tag.tag_days is None:
                _git(work, "tag", tag.name)
            else:
                _git(work, "tag", "--annotate", "--message", tag.name, tag.name,
                     date=ago(tag.tag_days))  # fmt: skip
        bare = self.path / name
        bare.parent.mkdir(parents=True, exist_ok=True)
        _git(self.path, "clone", "--quiet", "--bare", str(work), str(bare))
        return commits


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


class PyPI:
    """Releases as {version: (days ago, yanked)}; served while the context is open."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = ""
        self._server: http.server.ThreadingHTTPServer | None = None

    def package(self, name: str, releases: dict[str, tuple[float, bool]]) -> None:
        files = {
            version: [
                {
                    "filename": f"{normalize(name)}-{version}{suffix}",
                    "upload_time_iso_8601": ago(days + offset)
                    .isoformat(timespec="microseconds")
                    .replace("+00:00", "Z"),
                    "yanked": yanked,
                }
                for suffix, offset in ((".tar.gz", 0.0), ("-py3-none-any.whl", 0.01))
            ]
            for version, (days, yanked) in releases.items()
        }
        latest = max(releases, key=lambda v: releases[v][0] * -1)
        data = {"info": {"name": name, "version": latest}, "releases": files}
        target = self.path / "pypi" / normalize(name) / "json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(data), encoding="utf-8")

    def __enter__(self) -> Self:
        handler = functools.partial(_QuietHandler, directory=str(self.path))
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass
