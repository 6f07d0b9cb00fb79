#!/usr/bin/env -S uv run --script
# /// script
# dependencies = ["nox>=2025.2.9"]
# ///
"""Everyday tasks, the same commands on every machine and in CI: `nox -s NAME`.

`nox -l` lists them; `nox` alone runs lint, typecheck, test. nox only runs
PDM's own commands below: it makes no environment of its own.
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
        "pdm use -f python{python}",
        "pdm install --check",
        "pdm run python -m pip check",
    ],
    "prepare": [
        "pdm use -f python{python}",
    ],
    "lock": [
        "pdm use -f python{python}",
        "pdm lock",
    ],
    "test": [
        "pdm install --check -G test",
        "pdm run python -m pip check",
        "pdm run pytest",
    ],
    "lint": [
        "pdm install --check --no-default --no-self -G lint",
        "pdm run python -m pip check",
        "pdm run ruff check .",
        "pdm run ruff format --check .",
    ],
    "format": [
        "pdm install --check --no-default --no-self -G lint",
        "pdm run python -m pip check",
        "pdm run ruff format .",
        "pdm run ruff check --fix .",
    ],
    "typecheck": [
        "pdm install --check -G test -G lint",
        "pdm run python -m pip check",
        "pdm run mypy",
    ],
    "docs": [
        "pdm install --check --no-default --no-self -G docs",
        "pdm run python -m pip check",
        "pdm run zensical build --strict",
    ],
    "train": [
        "pdm install --check --prod",
        "pdm run python -m pip check",
        "pdm run demo-project train",
    ],
    "backfill": [
        "pdm install --check --prod",
        "pdm run python -m pip check",
        "pdm run demo-project backfill",
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
    """Install the environment from pdm.lock: the package and every group, then check it."""
    run(session, "install")


@nox.session(python=False, default=False)
def prepare(session: nox.Session) -> None:
    """Create the project's environment, empty, with its Python (once; `install` does it too)."""
    run(session, "prepare")


@nox.session(python=False, default=False)
def lock(session: nox.Session) -> None:
    """Create or refresh pdm.lock after a dependency change."""
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


@nox.session(python=False, default=False)
def image(session: nox.Session) -> None:
    """Build the container image, then run it."""
    run(session, "image")


if __name__ == "__main__":
    nox.main()
