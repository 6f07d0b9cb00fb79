"""Bump the template's own pins: the versions includes/ and template/ write into rendered repos.

    python3 requirements/pins.py                    # --check: each pin and its newest release
    python3 requirements/pins.py --write            # move the pins in place
    python3 requirements/pins.py --write --relock   # and relock requirements/dev.txt to match

Dependabot keeps rendered repositories and requirements/dev.txt current, but the pins the
template writes are text in its include files, which no updater reads. This tool finds
them by reading that text (no table lists them twice) and asks where each comes from:

  action  `owner/repo[/path]@<sha> # vX.Y.Z` (includes/actions.jinja): the newest release
          tag of the repository (`git ls-remote --tags`), its commit (the peeled `^{}`
          line of an annotated tag); the SHA and the comment move together
  hook    `rev: <sha> # frozen: vX.Y.Z` under `- repo: https://github.com/...` in a
          pre-commit configuration: the same, from the hook's repository
  pypi    `name==X.Y.Z` anywhere in includes/ and template/, `{% set name_version = "..." %}`
          and a `"version"` next to a `"name"` in an include's table: PyPI's JSON API
  image   `registry/name:X.Y.Z...` in an include's table: the uv image's tag is uv's PyPI
          version (whether ghcr.io has that tag yet is not checked); the others (micromamba,
          pixi) are published only as images and are reported as not checked

A candidate is the newest final release (no pre-release, nothing yanked) in the pin's
major version (`--major` allows the next ones; a calendar version such as nox's 2026.10.20
has no major to keep), released at least `--cooldown-days` ago (7, as .github/dependabot.yml
waits): for a tag, the later of its commit's and its own (annotated) date, read from a
one-commit partial clone of the tag.

Copies move with a pin: the same `name==` in pyproject.toml, README.md and docs/ (Copier's
pin: tests/test_update.py), the same action in .github/workflows/ (the template's own
workflows). A pin of a package that requirements/dev.txt also locks (the tests run the
version the template ships: nox, Copier, jactionlint, the managers) needs a relock of that
file: `--relock` runs requirements/lock.py with `--upgrade-package name==version` (that
needs uv); without it the command is printed.

Exit status: 0 when every pin is current (--check) or was written (--write), 1 when
--check finds a pin behind or a copy that differs, 2 when a source could not be read.
Stdlib only; runs on Python 3.9 and newer.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Where the pins live: what Copier reads.
SOURCES = ("includes", "template")
# Where copies of pins live, which follow them: Copier's pin (README, docs, the dev group),
# the actions of the template's own workflows.
COPIES = ("pyproject.toml", "README.md", "docs", ".github/workflows")
LOCK = Path("requirements") / "dev.txt"
LOCK_COMMAND = Path("requirements") / "lock.py"

# Images published only as images: what to say instead of a version.
UNCHECKED_IMAGES = {
    "mambaorg/micromamba": "Docker Hub image, not on PyPI: not checked",
    "ghcr.io/prefix-dev/pixi": "ghcr.io image, not on PyPI: not checked",
}
# Images whose tag is a PyPI release of the tool they ship.
PYPI_IMAGES = {"ghcr.io/astral-sh/uv": "uv"}
IMAGE_NOTE = "tag follows uv on PyPI; its presence on ghcr.io is not checked"

VERSION_TEXT = r"\d+(?:\.\d+)*(?:\.?post\d+)?"
ACTION = re.compile(
    r"(?P<ref>(?P<repo>[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)(?P<path>/[A-Za-z0-9_./-]+)?)"
    r"@(?P<sha>[0-9a-f]{40}) # (?P<version>v?\d+(?:\.\d+)*)(?![\w.])"
)
HOOK_REPO = re.compile(r"^\s*- repo: (?P<url>https?://\S+?)(?:\.git)?\s*$")
HOOK_REV = re.compile(r"rev: (?P<sha>[0-9a-f]{40}) # frozen: (?P<version>v?\d+(?:\.\d+)*)\b")
REQUIREMENT = re.compile(
    r"(?<![\w.-])(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)"
    r"(?P<extras>\[[A-Za-z0-9,._-]+\])?==(?P<version>" + VERSION_TEXT + r")(?![\w.])"
)
SET_VERSION = re.compile(
    r'\{%-?\s*set (?P<name>[a-z][a-z0-9_]*)_version\s*=\s*"(?P<version>' + VERSION_TEXT + r')"'
)
FIELD_VERSION = re.compile(r'"version":\s*"(?P<version>' + VERSION_TEXT + r')"')
FIELD_NAME = re.compile(r'"name":\s*"(?P<name>[A-Za-z0-9._-]+)"')
# A table: `{% set name | from_json %}`, `{% set name %}` or `{% set name = {`.
SET_BLOCK = re.compile(r"\{%-?\s*set (?P<name>\w+)(?:\s*(?:\||-?%\})|\s*=\s*\{\s*$)")
IMAGE = re.compile(
    r'"(?P<ref>(?P<image>[a-z0-9._-]+(?:/[a-z0-9._-]+)+):(?P<version>\d+(?:\.\d+)*)[\w.-]*)"'
)
JSON_KEY = re.compile(r'^\s*"(?P<key>[\w-]+)":')
YAML_KEY = re.compile(r"^\s*(?:- )?(?P<key>[\w-]+):")
TAG = re.compile(r"^(?P<prefix>v?)(?P<version>\d+(?:\.\d+)+)$")
PRE_RELEASE = re.compile(r"(a|b|c|rc|alpha|beta|pre|preview|dev)\d*", re.IGNORECASE)


# --- versions ---------------------------------------------------------------------------


def version_key(text: str) -> tuple[tuple[int, ...], int] | None:
    """(release numbers without trailing zeros, post number or -1); None for anything
    that is not a final release (pre-releases, dev releases, local or epoch versions)."""
    match = re.fullmatch(r"v?(\d+(?:\.\d+)*)(?:[.-]?post(\d+))?", text)
    if not match:
        return None
    release = tuple(int(part) for part in match.group(1).split("."))
    while len(release) > 1 and release[-1] == 0:
        release = release[:-1]
    return release, int(match.group(2)) if match.group(2) else -1


def major(text: str) -> int | None:
    """The major version; None for a calendar version (2026.10.20), which keeps no API."""
    first = int(re.match(r"v?(\d+)", text).group(1))  # type: ignore[union-attr]
    return None if first >= 1000 else first


def newer(candidate: str, current: str) -> bool:
    a, b = version_key(candidate), version_key(current)
    return a is not None and b is not None and a > b


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# --- what a pin is ----------------------------------------------------------------------


@dataclass
class Pin:
    kind: str  # action, hook, pypi, image
    file: str  # path relative to the root, with /
    line: int  # 1-based
    column: int  # where `text` starts on the line
    text: str  # the exact text that a bump rewrites
    key: str  # where in the file, for people
    source: str  # owner/repo, a hook's repository URL, a PyPI name, an image name
    version: str  # as written: "v7.0.1", "2.5.1", "0.13.9"
    sha: str = ""  # action and hook: the pinned commit
    package: str = ""  # the PyPI package that decides the version ("" when none)
    unchecked: str = ""  # why no source is asked
    copy_of: Pin | None = None  # a copy follows this pin

    def rewritten(self, version: str, sha: str) -> str:
        """`text` with the new version (and commit)."""
        if self.kind in {"action", "hook"}:
            return self.text.replace(self.sha, sha).replace(self.version, version)
        if self.kind == "image":
            return self.text.replace(f":{self.version}", f":{version}", 1)
        head, _, tail = self.text.rpartition(self.version)
        return head + version + tail

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


def _files(root: Path, parts: tuple[str, ...]) -> list[Path]:
    found: list[Path] = []
    for part in parts:
        path = root / part
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found.extend(p for p in sorted(path.rglob("*")) if p.is_file())
    return found


def _text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None


def _key(lines: list[str], index: int) -> str:
    """A readable address: the `{% set %}` table, enclosing keys, the line's own key."""
    names: list[str] = []
    own = JSON_KEY.match(lines[index]) or YAML_KEY.match(lines[index])
    if own:
        names.append(own.group("key"))
    indent = len(lines[index]) - len(lines[index].lstrip())
    for line in reversed(lines[:index]):
        block = SET_BLOCK.search(line)
        if block:
            names.append(block.group("name"))
            break
        stripped = line.lstrip()
        if not stripped:
            continue
        depth = len(line) - len(stripped)
        if depth < indent:
            parent = re.match(r'"(?P<key>[\w-]+)":\s*\{\s*$', stripped) or re.match(
                r"- id: (?P<key>[\w-]+)", stripped
            )
            if parent:
                names.append(parent.group("key"))
            indent = depth
    return ".".join(reversed(names)) or f"line {index + 1}"


@dataclass
class Line:
    """A line of a file, which makes the pins found on it."""

    file: str
    lines: list[str]
    index: int

    def pin(
        self, kind: str, m: re.Match[str], source: str, group: str | int = 0, key: str = "",
        sha: str = "", package: str = "", unchecked: str = "",
    ) -> Pin:  # fmt: skip
        return Pin(kind, self.file, self.index + 1, m.start(group), m.group(group),
                   key or _key(self.lines, self.index), source, m.group("version"), sha=sha,
                   package=package, unchecked=unchecked)  # fmt: skip


def discover(root: Path = ROOT) -> list[Pin]:
    """Every pin in includes/ and template/, in file and line order."""
    pins: list[Pin] = []
    for path in _files(root, SOURCES):
        text = _text(path)
        if text is None:
            continue
        rel = path.relative_to(root).as_posix()
        lines = text.split("\n")
        hook_repo = ""
        table_start = 0
        for index, text_line in enumerate(lines):
            line = Line(rel, lines, index)
            if SET_BLOCK.search(text_line):
                table_start = index
            repo = HOOK_REPO.match(text_line)
            if repo:
                hook_repo = repo.group("url")
            for m in ACTION.finditer(text_line):
                pins.append(line.pin("action", m, m.group("repo"), sha=m.group("sha")))
            for m in HOOK_REV.finditer(text_line):
                key = hook_repo.rsplit("/", 1)[-1] + ".rev"
                unchecked = "" if hook_repo else "no `- repo:` line above it"
                pins.append(line.pin("hook", m, hook_repo, key=key, sha=m.group("sha"),
                                     unchecked=unchecked))  # fmt: skip
            for m in REQUIREMENT.finditer(text_line):
                source = m.group("name") + (m.group("extras") or "")
                pins.append(line.pin("pypi", m, source, package=m.group("name")))
            for m in SET_VERSION.finditer(text_line):
                package = m.group("name").replace("_", "-")
                key = f"{m.group('name')}_version"
                pins.append(line.pin("pypi", m, package, key=key, package=package))
            # `"version"` fields: only in the includes' tables (template/ has the project's
            # own), with the `"name"` above it in the same table.
            for m in FIELD_VERSION.finditer(text_line) if rel.startswith("includes/") else ():
                names = FIELD_NAME.findall("\n".join(lines[table_start : index + 1]))
                package = names[-1] if names else ""
                unchecked = "" if package else 'no "name" beside it'
                pins.append(line.pin("pypi", m, package or "?", package=package,
                                     unchecked=unchecked))  # fmt: skip
            for m in IMAGE.finditer(text_line):
                package = PYPI_IMAGES.get(m.group("image"), "")
                unchecked = UNCHECKED_IMAGES.get(m.group("image"), "not on PyPI: not checked")
                pins.append(line.pin("image", m, m.group("image"), group="ref", package=package,
                                     unchecked="" if package else unchecked))  # fmt: skip
    return pins


def copies(root: Path, pins: list[Pin]) -> list[Pin]:
    """The copies of pins outside includes/ and template/ (pyproject.toml, README.md,
    docs/, .github/workflows/): the same PyPI package pinned with ==, the same action."""
    by_package = {normalize(p.package): p for p in pins if p.kind == "pypi" and p.package}
    by_action = {p.text.split("@", 1)[0]: p for p in pins if p.kind == "action"}
    # A PyPI requirement `name==version` or an action `owner/repo@sha # version`, and the
    # pin in includes/ or template/ it copies.
    originals: list[tuple[re.Pattern[str], Callable[[re.Match[str]], Pin | None]]] = [
        (REQUIREMENT, lambda m: by_package.get(normalize(m.group("name")))),
        (ACTION, lambda m: by_action.get(m.group("ref"))),
    ]
    found: list[Pin] = []
    for path in _files(root, COPIES):
        text = _text(path)
        if text is None:
            continue
        rel = path.relative_to(root).as_posix()
        for index, line in enumerate(text.split("\n")):
            for pattern, original_of in originals:
                for m in pattern.finditer(line):
                    pin = original_of(m)
                    if pin:
                        found.append(
                            Pin(
                                pin.kind,
                                rel,
                                index + 1,
                                m.start(),
                                m.group(0),
                                f"copy of {pin.where}",
                                pin.source,
                                m.group("version"),
                                sha=m.groupdict().get("sha") or "",
                                package=pin.package,
                                copy_of=pin,
                            )
                        )
    return found


def locked(root: Path) -> dict[str, str]:
    """normalized name -> version, of requirements/dev.txt."""
    text = _text(root / LOCK) or ""
    return {
        normalize(m.group("name")): m.group("version")
        for m in re.finditer(
            r"^(?P<name>[A-Za-z0-9._-]+)(?:\[[^\]]*\])?==(?P<version>\S+)", text, re.MULTILINE
        )
    }


# --- where new versions come from -------------------------------------------------------


@dataclass
class Release:
    version: str  # as the pin writes it (a tag keeps its "v")
    sha: str = ""
    date: dt.datetime | None = None


@dataclass
class Found:
    """What a source says about one pin."""

    target: Release | None = None  # the release to pin (None: stay, or see error)
    notes: list[str] = field(default_factory=list)
    error: str = ""


class Sources:
    def __init__(self, github_url: str, pypi_url: str, cooldown: int, allow_major: bool) -> None:
        self.github_url = github_url.rstrip("/")
        self.pypi_url = pypi_url.rstrip("/")
        self.cooldown = dt.timedelta(days=cooldown)
        self.allow_major = allow_major
        self.now = dt.datetime.now(dt.timezone.utc)
        self._cache: dict[tuple[str, str], object] = {}
        self._probe: str | None = None

    def close(self) -> None:
        if self._probe:
            shutil.rmtree(self._probe, ignore_errors=True)

    def choose(
        self, current: str, releases: list[Release], date_of: Callable[[Release], dt.datetime]
    ) -> Found:
        """The newest allowed release newer than `current` (target None: stay), with notes
        on the newer ones it passed over."""
        found = Found()
        pinned_major = major(current)
        for release in sorted(releases, key=lambda r: version_key(r.version), reverse=True):  # type: ignore[arg-type,return-value]
            if not newer(release.version, current):
                break
            other_major = pinned_major is not None and major(release.version) != pinned_major
            if other_major and not self.allow_major:
                if not any(note.startswith("major") for note in found.notes):
                    found.notes.append(f"major {release.version} (--major)")
                continue
            if self.cooldown:
                released = date_of(release)
                if self.now - released < self.cooldown:
                    age = (self.now - released).days
                    days = "1 day" if age == 1 else f"{age} days"
                    found.notes.append(f"{release.version} waits (released {days} ago)")
                    continue
            found.target = release
            break
        return found

    def git_tags(self, url: str, prefix: str) -> tuple[list[Release], str]:
        key = ("git", url)
        if key not in self._cache:
            result = subprocess.run(
                ["git", "ls-remote", "--tags", url],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
                env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
            )
            if result.returncode != 0:
                self._cache[key] = f"git ls-remote {url}: {result.stderr.strip()[-300:]}"
            else:
                commits: dict[str, str] = {}
                for line in result.stdout.splitlines():
                    sha, ref = line.split("\t", 1)
                    tag = ref[len("refs/tags/") :]
                    if tag.endswith("^{}"):
                        commits[tag[:-3]] = sha  # the commit an annotated tag points to
                    else:
                        commits.setdefault(tag, sha)
                self._cache[key] = commits
        cached = self._cache[key]
        if isinstance(cached, str):
            return [], cached
        releases = []
        for tag, sha in cached.items():  # type: ignore[attr-defined]
            m = TAG.match(tag)
            if m and m.group("prefix") == prefix and version_key(tag) is not None:
                releases.append(Release(tag, sha))
        return releases, ""

    def tag_date(self, url: str, tag: str) -> dt.datetime:
        """When a tag was released: the later of its commit's date and its own (annotated)."""
        if self._probe is None:
            self._probe = tempfile.mkdtemp(prefix="pins-")
        target = os.path.join(self._probe, str(len(os.listdir(self._probe))))
        subprocess.run(
            [
                "git",
                "clone",
                "--quiet",
                "--bare",
                "--depth=1",
                "--filter=tree:0",
                "--branch",
                tag,
                url,
                target,
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
        )
        dates = subprocess.run(
            [
                "git",
                "for-each-ref",
                "--format=%(taggerdate:unix) %(*committerdate:unix) %(committerdate:unix)",
                f"refs/tags/{tag}",
            ],
            cwd=target,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        return dt.datetime.fromtimestamp(max(int(d) for d in dates), dt.UTC)

    def for_git(self, pin: Pin) -> Found:
        if pin.kind == "action":
            url = f"{self.github_url}/{pin.source}"
        else:
            url = re.sub(r"^https://github\.com(?=/)", self.github_url, pin.source)
        prefix = "v" if pin.version.startswith("v") else ""
        releases, error = self.git_tags(url, prefix)
        if error:
            return Found(error=error)
        try:
            found = self.choose(pin.version, releases, lambda r: self.tag_date(url, r.version))
        except subprocess.CalledProcessError as exc:
            return Found(error=f"git clone {url}: {(exc.stderr or '').strip()[-300:]}")
        moved = next((r.sha for r in releases if r.version == pin.version), None)
        if moved and moved != pin.sha:
            found.notes.append(
                f"tag {pin.version} now points to {moved[:12]}, not the pinned commit (left as is)"
            )
        return found

    def pypi_releases(self, package: str) -> tuple[list[Release], str]:
        key = ("pypi", normalize(package))
        if key not in self._cache:
            url = f"{self.pypi_url}/pypi/{normalize(package)}/json"
            try:
                request = urllib.request.Request(
                    url, headers={"User-Agent": "groundwork-pins", "Accept": "application/json"}
                )
                with urllib.request.urlopen(request, timeout=60) as response:
                    data = json.load(response)
            except (urllib.error.URLError, OSError, ValueError) as exc:
                self._cache[key] = f"{url}: {exc}"
            else:
                releases = []
                for version, files in data.get("releases", {}).items():
                    if not files or all(f.get("yanked") for f in files):
                        continue  # nothing to install, or yanked
                    if version_key(version) is None or PRE_RELEASE.search(version):
                        continue
                    uploaded = min(
                        dt.datetime.fromisoformat(
                            (f.get("upload_time_iso_8601") or f["upload_time"] + "Z").replace(
                                "Z", "+00:00"
                            )
                        )
                        for f in files
                    )
                    releases.append(Release(version, date=uploaded))
                self._cache[key] = releases
        cached = self._cache[key]
        if isinstance(cached, str):
            return [], cached
        return list(cached), ""  # type: ignore[call-overload]

    def for_pypi(self, pin: Pin) -> Found:
        releases, error = self.pypi_releases(pin.package)
        if error:
            return Found(error=error)
        found = self.choose(pin.version, releases, lambda r: r.date)  # type: ignore[arg-type,return-value]
        if pin.kind == "image":
            found.notes.append(IMAGE_NOTE)
        return found

    def lookup(self, pin: Pin) -> Found:
        if pin.unchecked:
            return Found()
        if pin.kind in {"action", "hook"}:
            return self.for_git(pin)
        return self.for_pypi(pin)


# --- the run ----------------------------------------------------------------------------


@dataclass
class Row:
    pin: Pin
    found: Found

    @property
    def new_version(self) -> str:
        return self.found.target.version if self.found.target else self.pin.version

    @property
    def new_sha(self) -> str:
        return (
            self.found.target.sha if self.found.target and self.found.target.sha else self.pin.sha
        )

    @property
    def behind(self) -> bool:
        return self.new_version != self.pin.version or self.new_sha != self.pin.sha

    @property
    def status(self) -> str:
        if self.found.error:
            return "error"
        if self.pin.unchecked:
            return "not checked"
        return "behind" if self.behind else "current"


def table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows
    )


def rewrite(root: Path, edits: list[tuple[Pin, str]]) -> list[str]:
    """Replace each pin's text with its new text, in place; the rest stays byte-identical."""
    by_file: dict[str, list[tuple[Pin, str]]] = {}
    for pin, new in edits:
        by_file.setdefault(pin.file, []).append((pin, new))
    for name, changes in by_file.items():
        path = root / name
        with path.open(encoding="utf-8", newline="") as handle:
            lines = handle.read().split("\n")
        for pin, new in sorted(changes, key=lambda c: (c[0].line, c[0].column), reverse=True):
            line = lines[pin.line - 1]
            end = pin.column + len(pin.text)
            if line[pin.column : end] != pin.text:
                raise SystemExit(f"{pin.where}: expected {pin.text!r}, the file changed meanwhile")
            lines[pin.line - 1] = line[: pin.column] + new + line[end:]
        with path.open("w", encoding="utf-8", newline="") as handle:
            handle.write("\n".join(lines))
    return sorted(by_file)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n", 1)[0],
        epilog="See the module docstring (head requirements/pins.py) for the rules.",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="report only (the default)")
    mode.add_argument("--write", action="store_true", help="rewrite the files in place")
    parser.add_argument("--root", type=Path, default=ROOT, help="the template (default: here)")
    parser.add_argument(
        "--cooldown-days",
        type=int,
        default=7,
        metavar="N",
        help="skip releases younger than N days (default 7)",
    )
    parser.add_argument("--major", action="store_true", help="allow new major versions")
    parser.add_argument(
        "--only",
        action="append",
        choices=["action", "hook", "pypi", "image"],
        help="only pins of this kind (repeatable)",
    )
    parser.add_argument(
        "--relock",
        action="store_true",
        help="with --write: run requirements/lock.py for pins it shares",
    )
    parser.add_argument(
        "--github-url",
        default=os.environ.get("PINS_GITHUB_URL", "https://github.com"),
        help="base URL of action repositories (env PINS_GITHUB_URL)",
    )
    parser.add_argument(
        "--pypi-url",
        default=os.environ.get("PINS_PYPI_URL", "https://pypi.org"),
        help="base URL of PyPI's JSON API (env PINS_PYPI_URL)",
    )
    args = parser.parse_args(argv)
    root = args.root.resolve()

    pins = [p for p in discover(root) if not args.only or p.kind in args.only]
    sources = Sources(args.github_url, args.pypi_url, args.cooldown_days, args.major)
    try:
        rows = [Row(pin, sources.lookup(pin)) for pin in pins]
    finally:
        sources.close()

    report = [["where", "key", "source", "pinned", "newest", "status"]]
    notes: list[str] = []
    for row in rows:
        newest = row.new_version if not row.found.error else "?"
        if row.found.target and row.found.target.sha and row.new_sha != row.pin.sha:
            newest += f" ({row.new_sha[:12]})"
        report.append(
            [row.pin.where, row.pin.key, row.pin.source, row.pin.version, newest, row.status]
        )
        for note in row.found.notes:
            notes.append(f"{row.pin.where} {row.pin.source}: {note}")
        if row.pin.unchecked:
            notes.append(f"{row.pin.where} {row.pin.source}: {row.pin.unchecked}")
        if row.found.error:
            notes.append(f"{row.pin.where} {row.pin.source}: error: {row.found.error}")

    # Copies follow their pin's new version; one that differs already is reported.
    new_of = {id(row.pin): row for row in rows}
    edits: list[tuple[Pin, str]] = [
        (row.pin, row.pin.rewritten(row.new_version, row.new_sha))
        for row in rows
        if row.behind and not row.found.error
    ]
    stale_copies = 0
    for copy in copies(root, [row.pin for row in rows]):
        source_row = new_of[id(copy.copy_of)]
        want = copy.rewritten(source_row.new_version, source_row.new_sha)
        if want != copy.text:
            edits.append((copy, want))
            stale_copies += not source_row.behind  # differs already, whatever the source says
            notes.append(f"{copy.where}: {copy.text} -> {want} ({copy.key})")

    lock = locked(root)
    relock = sorted(
        {
            f"{normalize(row.pin.package)}=={row.new_version}"
            for row in rows
            if row.pin.package
            and not row.found.error
            and normalize(row.pin.package) in lock
            and lock[normalize(row.pin.package)] != row.new_version
        }
    )
    command = [sys.executable, str(root / LOCK_COMMAND)] + [
        f"--upgrade-package={s}" for s in relock
    ]

    print(table(report))
    if notes:
        print("\nNotes:")
        print("\n".join(f"  {note}" for note in notes))
    behind = sum(row.status == "behind" for row in rows)
    errors = sum(row.status == "error" for row in rows)
    print(
        f"\n{len(rows)} pins: {behind} behind, {errors} not readable, "
        f"{sum(row.status == 'not checked' for row in rows)} not checked."
    )
    if relock:
        shown = " ".join([".venv/bin/python", LOCK_COMMAND.as_posix(), *command[2:]])
        print(
            f"requirements/dev.txt must lock {', '.join(relock)} (the tests run what the "
            f"template pins): {'relocking' if args.write and args.relock else 'relock'} with\n"
            f"  {shown}"
        )

    if args.write:
        if edits:
            written = rewrite(root, edits)
            print(f"wrote {', '.join(written)}")
        if relock and args.relock and subprocess.run(command, cwd=root, check=False).returncode:
            print("the relock failed: requirements/dev.txt is unchanged", file=sys.stderr)
            return 2
        return 2 if errors else 0
    return 2 if errors else 1 if behind or stale_copies or relock else 0


if __name__ == "__main__":
    sys.exit(main())
