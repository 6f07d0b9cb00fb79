"""A throwaway git repository of the template with two releases, for the update tests.

`build(path)` writes the template twice into a new repository:

- OLD_TAG, an older state derived from today's template with the kinds of differences a
  real release brings (see `OLD_STATE`): a changed action pin, a CI step that did not
  exist yet, a README section worded differently, a file that is new in NEW_TAG and a
  file NEW_TAG removed, plus a change to sample code that updates must not bring;
- NEW_TAG, today's template exactly as it is in the working tree (committed or not).

Projects are rendered from it with `render` and committed, so that `copier update` runs
its real algorithm (re-render the recorded version, diff, apply onto the new one).
The helpers also find lines that stay put across renders, so user edits in the tests can
be placed where the template's own changes do not touch them, whatever the template's
current wording.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from helpers import run, tool
from matrix import ROOT

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

OLD_TAG = "v1.0.0"
NEW_TAG = "v1.1.0"

# What Copier reads from the template repository.
TEMPLATE_PARTS = ("copier.yml", "includes", "template")

GIT_ENV = {
    "GIT_AUTHOR_NAME": "groundwork tests",
    "GIT_AUTHOR_EMAIL": "tests@example.com",
    "GIT_COMMITTER_NAME": "groundwork tests",
    "GIT_COMMITTER_EMAIL": "tests@example.com",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}

# The files whose old state differs, and how (see `old_state`).
OLD_CHECKOUT_PIN = "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2"
NEW_FILE = ".github/workflows/template-update.yml"
REMOVED_FILE = ".flake8"
REMOVED_FILE_TEXT = "[flake8]\nmax-line-length = 100\nexclude = .venv\n"
NEW_CI_STEP = "Set up Docker Buildx"
OLD_README_SECTION = """## Updating from the template

This repository remembers its template answers in `.copier-answers.yml`. To bring in
template improvements, commit your work, then run:

```bash
copier update
```

Copier merges the template's changes with yours; resolve any conflict markers it
leaves, run the tests, and commit.
"""
OLD_CORE_DOCSTRING = '"""Core logic of the package: scaling and a linear model.'


def git(cwd: Path, *args: str) -> str:
    return run(["git", *args], cwd=cwd, env=GIT_ENV).stdout


def commit_all(project: Path, message: str) -> None:
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "--allow-empty", "--message", message)


def copier(*args: str, cwd: Path | None = None) -> str:
    """Run the Copier of the test environment (the version the template pins)."""
    return run([tool("copier"), *args], cwd=cwd, env=GIT_ENV, timeout=600).stderr


# --- the repository --------------------------------------------------------------------


def today() -> dict[str, bytes]:
    """The template's files in the working tree: path -> content."""
    listed = subprocess.run(
        [
            "git",
            "ls-files",
            "--cached",
            "--others",
            "--exclude-standard",
            "-z",
            "--",
            *TEMPLATE_PARTS,
        ],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    files = {}
    for name in filter(None, listed.split("\0")):
        path = ROOT / name
        if path.is_file():
            files[name] = path.read_bytes()
    return files


def files_at(commit: str) -> dict[str, bytes]:
    """The template's files as this repository's history has them at `commit`."""
    found = subprocess.run(
        ["git", "cat-file", "-e", f"{commit}^{{commit}}"],
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    if found.returncode != 0:
        msg = f"commit {commit} is not in this clone's history (a shallow clone?): fetch it"
        raise AssertionError(msg)
    listed = subprocess.run(
        ["git", "ls-tree", "-r", "-z", "--name-only", commit, "--", *TEMPLATE_PARTS],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return {
        name: subprocess.run(
            ["git", "show", f"{commit}:{name}"], cwd=ROOT, capture_output=True, check=True
        ).stdout
        for name in filter(None, listed.split("\0"))
    }


def _replace(text: str, old: str | re.Pattern[str], new: str, what: str) -> str:
    """Replace exactly one occurrence; fail loudly when the template no longer has it."""
    if isinstance(old, re.Pattern):
        result, count = old.subn(new, text)
    else:
        count = text.count(old)
        result = text.replace(old, new)
    if count != 1:
        msg = (
            f"old state of the template: expected one {what}, found {count}; "
            "update tests/template_repo.py to today's template"
        )
        raise AssertionError(msg)
    return result


def old_state(files: dict[str, bytes]) -> dict[str, bytes]:
    """Today's template as an older release would have had it."""
    old = dict(files)

    def edit(name: str, change: Callable[[str], str]) -> None:
        old[name] = change(old[name].decode()).encode()

    # A changed pin: the checkout action one release back.
    edit(
        "includes/actions.jinja",
        lambda t: _replace(
            t,
            re.compile(r'"checkout": "actions/checkout@[0-9a-f]{40} # v[\d.]+"'),
            f'"checkout": "{OLD_CHECKOUT_PIN}"',
            "checkout pin",
        ),
    )
    # A CI step the older release did not have.
    edit(
        "template/.github/workflows/ci.yml.jinja",
        lambda t: _replace(
            t,
            re.compile(rf"      - name: {NEW_CI_STEP}\n        uses: [^\n]+\n"),
            "",
            f"'{NEW_CI_STEP}' step",
        ),
    )
    # A README section worded differently: the last one, up to its end marker.
    edit(
        "template/README.md.jinja",
        lambda t: _replace(
            t,
            re.compile(
                r"## Updating from the template\n(?:(?!\n## |\n<!-- /groundwork: ).)*\n",
                re.DOTALL,
            ),
            OLD_README_SECTION + "\n",
            "section 'Updating from the template'",
        ),
    )
    # Sample code worded differently (the user's after the first copy: never updated).
    edit(
        "template/src/{{ package_name }}/core.py.jinja",
        lambda t: _replace(
            t, re.compile(r"\A\"\"\"[^\n]*"), OLD_CORE_DOCSTRING, "core.py docstring"
        ),
    )
    # A file that is new in NEW_TAG, and one that NEW_TAG removed.
    new_file = f"template/{NEW_FILE}.jinja"
    if new_file not in old:
        raise AssertionError(f"{new_file} is missing from today's template")
    del old[new_file]
    old[f"template/{REMOVED_FILE}.jinja"] = REMOVED_FILE_TEXT.encode()
    return old


def _write(repo: Path, files: dict[str, bytes]) -> None:
    for part in TEMPLATE_PARTS:
        target = repo / part
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    for name, content in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def build(
    repo: Path,
    extra: Callable[[dict[str, bytes]], dict[str, bytes]] | None = None,
    old: dict[str, bytes] | None = None,
) -> Path:
    """The repository with OLD_TAG and NEW_TAG (NEW_TAG optionally changed by `extra`).

    OLD_TAG is `old_state` of today's template, or `old` (e.g. `files_at` a past commit).
    """
    repo.mkdir(parents=True)
    git(repo, "init", "--quiet", "--initial-branch=main")
    files = today()
    _write(repo, old if old is not None else old_state(files))
    commit_all(repo, f"template {OLD_TAG}")
    git(repo, "tag", OLD_TAG)
    _write(repo, extra(files) if extra else files)
    commit_all(repo, f"template {NEW_TAG}")
    git(repo, "tag", NEW_TAG)
    return repo


# --- projects ----------------------------------------------------------------------------


def render(repo: Path, answers: dict[str, Any], dst: Path, ref: str, init: bool = False) -> Path:
    """`copier copy` of the template at `ref` with these answers (and `git init` + commit)."""
    data = dst.parent / f"{dst.name}-answers.yml"
    data.write_text(yaml.safe_dump(answers), encoding="utf-8")
    copier(
        "copy",
        "--quiet",
        "--defaults",
        f"--vcs-ref={ref}",
        f"--data-file={data}",
        str(repo),
        str(dst),
    )
    data.unlink()
    if init:
        git(dst, "init", "--quiet", "--initial-branch=main")
        commit_all(dst, f"Start from groundwork {ref}")
    return dst


def update(project: Path, *args: str) -> str:
    """`copier update --defaults` as README.md gives it, plus `args`."""
    return copier("update", "--quiet", "--defaults", *args, cwd=project)


def tree(project: Path, skip: Iterable[str] = ()) -> dict[str, bytes]:
    """Every file of a project but .git and caches: relative path -> content."""
    ignored = {".git", ".venv", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
    found = {}
    for path in sorted(project.rglob("*")):
        relative = path.relative_to(project)
        if ignored & set(relative.parts) or not path.is_file() or str(relative) in skip:
            continue
        found[str(relative)] = path.read_bytes()
    return found


def conflicted(project: Path) -> list[str]:
    """Files Copier left unmerged (inline conflict markers)."""
    return git(project, "diff", "--name-only", "--diff-filter=U").split()


def files_with_markers(project: Path) -> list[str]:
    return [
        name
        for name, content in tree(project).items()
        if re.search(rb"^(<<<<<<< before updating|>>>>>>> after updating)$", content, re.MULTILINE)
    ]


def stable_line(texts: list[str], wanted: Callable[[str], bool], reach: int = 2) -> str:
    """A line of texts[0] that `wanted` accepts and that appears, with `reach` lines of
    unchanged neighbours on each side, in every text: editing it cannot touch a line
    that any of these renders changes."""
    first = texts[0].splitlines()
    for index in range(reach, len(first) - reach):
        if not wanted(first[index]) or first.count(first[index]) != 1:
            continue
        block = "\n".join(first[index - reach : index + reach + 1]) + "\n"
        if all(block in text for text in texts[1:]):
            return first[index]
    raise AssertionError(
        "no line stays put across these renders; the user edits of the update tests "
        "need one (tests/template_repo.py, stable_line)"
    )


def replace_line(path: Path, line: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(line + "\n") == 1, (path, line)
    path.write_text(text.replace(line + "\n", new + "\n"), encoding="utf-8")


# --- what users do between updates ----------------------------------------------------

# A runtime dependency the user adds (small, typed, pure Python), and code that uses it.
DEPENDENCY = "tomli-w"
DEPENDENCY_SPEC = "tomli-w>=1.0"
USER_MODULE = '''"""Scores as TOML, for the reporting team."""

from __future__ import annotations

import tomli_w


def scores_to_toml(scores: dict[str, float]) -> str:
    """The scores as a TOML document with one table, `scores`."""
    return tomli_w.dumps({"scores": scores})
'''
USER_TEST = '''"""Tests of the TOML export."""

from __future__ import annotations

import tomllib

from {package}.formats import scores_to_toml


def test_scores_round_trip() -> None:
    scores = {{"a": 0.5, "b": 1.25}}
    assert tomllib.loads(scores_to_toml(scores)) == {{"scores": scores}}
'''
USER_README_LINE = "Our team's notes: the scores feed the weekly report (see docs/)."
USER_DOCKERFILE_LINE = "# Built by the scoring team's release job; keep it small."
USER_CI_STEP = """      - name: Lint the Dockerfile
        run: docker run --rm -i hadolint/hadolint < Dockerfile
"""


def user_owned_paths(package: str) -> set[str]:
    """The files copier.yml's `_exclude` leaves to the user on update."""
    config = yaml.safe_load((ROOT / "copier.yml").read_text(encoding="utf-8"))
    found = set()
    for entry in config["_exclude"]:
        match = re.fullmatch(r"\{% if _copier_operation == 'update' %\}/(.+)\{% endif %\}", entry)
        assert match, f"unexpected _exclude entry {entry!r}"
        found.add(match.group(1).replace("{{ package_name }}", package))
    return found


def prose(line: str) -> bool:
    return len(line) > 40 and line[:1].isalpha() and "`" not in line


def comment(line: str) -> bool:
    return line.startswith("# ") and len(line) > 30


def edit_like_a_user(project: Path, package: str, renders: Iterable[Path]) -> None:
    """Everyday edits, placed on lines that none of `renders` changes: a module and its
    test, a reworded README paragraph, a CI step, a changed Dockerfile line."""
    others = list(renders)
    (project / "src" / package / "formats.py").write_text(USER_MODULE, encoding="utf-8")
    test = USER_TEST.format(package=package)
    (project / "tests" / "test_formats.py").write_text(test, encoding="utf-8")

    def texts(name: str) -> list[str]:
        return [(path / name).read_text(encoding="utf-8") for path in [project, *others]]

    replace_line(project / "README.md", stable_line(texts("README.md"), prose), USER_README_LINE)
    replace_line(
        project / "Dockerfile", stable_line(texts("Dockerfile"), comment), USER_DOCKERFILE_LINE
    )
    ci = project / ".github" / "workflows" / "ci.yml"
    ending = "\n".join(ci.read_text(encoding="utf-8").splitlines()[-3:]) + "\n"
    assert all(text.endswith(ending) for text in texts(".github/workflows/ci.yml")), (
        "ci.yml ends differently across renders: the user's step appended there would conflict"
    )
    ci.write_text(ci.read_text(encoding="utf-8") + USER_CI_STEP, encoding="utf-8")


def add_dependency_to_pyproject(project: Path, spec: str = DEPENDENCY_SPEC) -> None:
    """What README.md says for managers without an `add` command: edit `dependencies`."""
    path = project / "pyproject.toml"
    text = path.read_text(encoding="utf-8")
    if "dependencies = []\n" in text:
        text = text.replace("dependencies = []\n", f'dependencies = ["{spec}"]\n', 1)
    else:
        text = _replace(text, "dependencies = [\n", f'dependencies = [\n  "{spec}",\n', "list")
    path.write_text(text, encoding="utf-8")


def listed_files(project: Path) -> dict[str, bytes]:
    """The files git would commit (tracked, or untracked and not ignored): path -> content."""
    names = git(project, "ls-files", "--cached", "--others", "--exclude-standard", "-z")
    return {
        name: (project / name).read_bytes()
        for name in filter(None, names.split("\0"))
        if (project / name).is_file()
    }


def expected_after_update(
    project: Path, start: str, edited: str, fresh: Path, package: str, work: Path
) -> dict[str, bytes]:
    """A fresh render of the new release plus exactly the user's hunks (commits
    `start`..`edited`); the user's own files (`user_owned_paths`) as the user left them."""
    owned = user_owned_paths(package)
    excluded = [f":(exclude){name}" for name in [*owned, ".copier-answers.yml"]]
    patch = git(project, "diff", "--binary", start, edited, "--", ".", *excluded)
    shutil.copytree(fresh, work)
    if patch:
        (work.parent / "user.patch").write_text(patch, encoding="utf-8")
        run(["git", "apply", "--whitespace=nowarn", str(work.parent / "user.patch")], cwd=work)
    expected = tree(work)
    for name in owned:
        expected.pop(name, None)
        content = (
            git(project, "show", f"{edited}:{name}") if _exists(project, edited, name) else None
        )
        if content is not None:
            expected[name] = content.encode()
    return expected


def _exists(project: Path, commit: str, name: str) -> bool:
    listed = git(project, "ls-tree", "--name-only", commit, "--", name)
    return bool(listed.strip())
