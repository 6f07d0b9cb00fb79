#!/usr/bin/env -S uv run --script
# /// script
# dependencies = ["nox>=2025.2.9"]
# ///
"""Everyday tasks, the same commands on every machine and in CI: `nox -s NAME`.

`nox -l` lists them; `nox` alone runs lint, typecheck, test. nox only runs
Pipenv's own commands below: it makes no environment of its own.
Each task first installs the dependency groups it uses, from the lock, and checks the
environment; then it runs its tools.
Install nox once per machine: `pipx install nox` (with uv, `./noxfile.py -s NAME`
also works: uv reads the script block above).
"""

from __future__ import annotations

import os
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
        "pipenv --python {python}",
        'pipenv sync --categories "packages test lint docs"',
        "pipenv run python -m pip check",
    ],
    "prepare": [
        "pipenv --python {python}",
    ],
    "lock": [
        "pipenv --python {python}",
        "pipenv lock",
    ],
    "test": [
        'pipenv sync --categories "packages test"',
        "pipenv run python -m pip check",
        "pipenv run pytest",
    ],
    "lint": [
        "pipenv sync --categories lint",
        "pipenv run python -m pip check",
        "pipenv run ruff check .",
        "pipenv run ruff format --check .",
    ],
    "format": [
        "pipenv sync --categories lint",
        "pipenv run python -m pip check",
        "pipenv run ruff format .",
        "pipenv run ruff check --fix .",
    ],
    "typecheck": [
        'pipenv sync --categories "packages test lint"',
        "pipenv run python -m pip check",
        "pipenv run mypy",
    ],
    "docs": [
        "pipenv sync --categories docs",
        "pipenv run python -m pip check",
        "pipenv run zensical build --strict",
    ],
    "train": [
        "pipenv sync --categories packages",
        "pipenv run python -m pip check",
        "pipenv run demo-project train",
    ],
    "image": [
        "docker build --tag demo-project .",
        "docker run --rm --publish 8000:8000 demo-project",
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
    """Install the environment from Pipfile.lock: the package and every group, then check it."""
    run(session, "install")


@nox.session(python=False, default=False)
def prepare(session: nox.Session) -> None:
    """Create the project's environment, empty, with its Python (once; `install` does it too)."""
    run(session, "prepare")


@nox.session(python=False, default=False)
def lock(session: nox.Session) -> None:
    """Create or refresh Pipfile.lock after a dependency change."""
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
def image(session: nox.Session) -> None:
    """Build the container image, then run it."""
    run(session, "image")


if __name__ == "__main__":
    nox.main()
