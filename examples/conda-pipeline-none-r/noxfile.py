#!/usr/bin/env -S uv run --script
# /// script
# dependencies = ["nox>=2025.2.9"]
# ///
"""Everyday tasks, the same commands on every machine and in CI: `nox -s NAME`.

`nox -l` lists them; `nox` alone runs providers, lint, typecheck, test. nox only runs
conda (environment.yml)'s own commands below: it makes no environment of its own, and the conda environment must be active.
Each task first installs the dependency groups it uses, from the lock, and checks the
environment; then it runs its tools.
Install nox once per machine: `pipx install nox` (with uv, `./noxfile.py -s NAME`
also works: uv reads the script block above).
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import nox

nox.needs_version = ">=2025.2.9"
# The sessions use the project environment; nox creates none.
nox.options.default_venv_backend = "none"

# The Python version the environment is made with: .python-version's, unless
# PROJECT_PYTHON names another (CI's test matrix does).
PYTHON = (
    os.environ.get("PROJECT_PYTHON")
    or Path(__file__).with_name(".python-version").read_text(encoding="utf-8").strip()
)

# The commands of each task, in order ({python}: the version above).
TASKS: dict[str, list[str]] = {
    "install": [
        "python -m pip install --no-deps --editable .",
        "python -m pip check",
    ],
    "lock": [
        "conda-lock lock --file environment.yml --file environment-test.yml --file environment-lint.yml --file environment-docs.yml",
    ],
    "test": [
        "python -m pip install --no-deps --editable .",
        "python -m pip check",
        "pytest",
    ],
    "lint": [
        "python -m pip check",
        "ruff check .",
        "ruff format --check .",
    ],
    "format": [
        "python -m pip check",
        "ruff format .",
        "ruff check --fix .",
    ],
    "typecheck": [
        "python -m pip install --no-deps --editable .",
        "python -m pip check",
        "mypy",
    ],
    "docs": [
        "python -m pip check",
        "zensical build --strict",
    ],
    "train": [
        "python -m pip install --no-deps --editable .",
        "python -m pip check",
        "demo-project train",
    ],
    "backfill": [
        "python -m pip install --no-deps --editable .",
        "python -m pip check",
        "demo-project backfill",
    ],
    "image": [
        "docker build --tag demo-project .",
        "docker run --rm demo-project",
    ],
}


def run(session: nox.Session, task: str, *extra: str) -> None:
    """Run a task's commands; `extra` arguments go to the last one, the task's tool."""
    commands = TASKS[task]
    for number, command in enumerate(commands, 1):
        words = shlex.split(command.replace("{python}", PYTHON))
        session.run(*words, *(extra if number == len(commands) else ()))


@nox.session(python=False, default=False)
def install(session: nox.Session) -> None:
    """Install the package into the active environment (made from conda-lock.yml), then check it."""
    run(session, "install")


@nox.session(python=False, default=False)
def lock(session: nox.Session) -> None:
    """Create or refresh conda-lock.yml after a dependency change."""
    run(session, "lock")


@nox.session(python=False)
def test(session: nox.Session) -> None:
    """Run the tests with pytest."""
    run(session, "test", *session.posargs)


@nox.session(python=False)
def lint(session: nox.Session) -> None:
    """Check the code with ruff: lint rules and formatting."""
    run(session, "lint")


@nox.session(python=False, name="format", default=False)
def format_code(session: nox.Session) -> None:
    """Format the code with ruff and apply its safe fixes."""
    run(session, "format")


@nox.session(python=False)
def typecheck(session: nox.Session) -> None:
    """Type-check the package and the tests with mypy."""
    run(session, "typecheck")


@nox.session(python=False, default=False)
def docs(session: nox.Session) -> None:
    """Build the docs site into site/, strictly (a broken link fails)."""
    run(session, "docs")


@nox.session(python=False, default=False)
def train(session: nox.Session) -> None:
    """Train the model on a dataset and write its artifact (its options after `--`)."""
    run(session, "train", *session.posargs)


@nox.session(python=False, default=False)
def backfill(session: nox.Session) -> None:
    """Score and commit each date of a range: -- --from DATE --to DATE [--jobs N]."""
    run(session, "backfill", *session.posargs)


# --- one provider per package -------------------------------------------------------------
# A package declared on both the conda side and the PyPI side lands twice in the same
# environment, in two versions, and whichever was installed last wins. Names are
# compared as PyPI normalizes them (lower case, `-` for `_` and `.`).


def _name(spec: str) -> str:
    """A requirement's normalized name: `conda-forge::NumPy>=2` -> `numpy`."""
    spec = spec.strip().strip("'\"").split("::")[-1]
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", spec)
    return re.sub(r"[-_.]+", "-", match.group(0)).lower() if match else ""


def _environment_files() -> dict[str, dict[str, str]]:
    """The dependencies of environment*.yml: {"conda": {name: file}, "pypi": {name: file}}.

    Reads the one shape these files have: a `dependencies:` list of strings, where an
    entry `- pip:` opens a more indented list of PyPI requirements.
    """
    sides: dict[str, dict[str, str]] = {"conda": {}, "pypi": {}}
    for path in sorted(Path(__file__).parent.glob("environment*.yml")):
        in_dependencies, pip_indent = False, -1
        for raw in path.read_text(encoding="utf-8").splitlines():
            line = re.sub(r"(^|\s)#.*", "", raw).rstrip()
            if not line:
                continue
            if not line[0].isspace():
                in_dependencies, pip_indent = line.startswith("dependencies:"), -1
                continue
            item = re.match(r"(\s*)-\s+(.+)", line)
            if not in_dependencies or item is None:
                continue
            indent, value = len(item.group(1)), item.group(2)
            if 0 <= pip_indent < indent:
                sides["pypi"].setdefault(_name(value), path.name)
                continue
            pip_indent = indent if value.replace(" ", "") == "pip:" else -1
            if pip_indent < 0 and _name(value) not in {"python", "pip"}:
                sides["conda"].setdefault(_name(value), path.name)
    return sides


def _sides() -> dict[str, dict[str, str]]:
    return _environment_files()


@nox.session(python=False)
def providers(session: nox.Session) -> None:
    """Check that no package is declared on both the conda side and the PyPI side."""
    sides = _sides()
    both = sorted(set(sides["conda"]) & set(sides["pypi"]))
    if both:
        session.error(
            "; ".join(
                f"{name} is declared on both the conda side ({sides['conda'][name]}) and the "
                f"PyPI side ({sides['pypi'][name]}): keep it on one side"
                for name in both
            )
        )
    session.log(
        f"{len(sides['conda'])} conda and {len(sides['pypi'])} PyPI packages, none on both sides"
    )


@nox.session(python=False, default=False)
def image(session: nox.Session) -> None:
    """Build the container image, then run it."""
    run(session, "image")


if __name__ == "__main__":
    nox.main()
