#!/usr/bin/env -S uv run --script
# /// script
# dependencies = ["nox>=2025.2.9"]
# ///
"""Everyday tasks, the same commands on every machine and in CI: `nox -s NAME`.

`nox -l` lists them; `nox` alone runs providers, lint, typecheck, test. nox only runs
pixi's own commands below: it makes no environment of its own.
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
        "pixi install --locked --environment default",
        "pixi run --environment default python -m pip check",
    ],
    "lock": [
        "pixi lock",
    ],
    "test": [
        "pixi install --locked --environment test",
        "pixi run --environment test python -m pip check",
        "pixi run --environment test pytest",
    ],
    "lint": [
        "pixi install --locked --environment lint",
        "pixi run --environment lint python -m pip check",
        "pixi run --environment lint ruff check .",
        "pixi run --environment lint ruff format --check .",
    ],
    "format": [
        "pixi install --locked --environment lint",
        "pixi run --environment lint python -m pip check",
        "pixi run --environment lint ruff format .",
        "pixi run --environment lint ruff check --fix .",
    ],
    "typecheck": [
        "pixi install --locked --environment lint",
        "pixi run --environment lint python -m pip check",
        "pixi run --environment lint mypy",
    ],
    "docs": [
        "pixi install --locked --environment docs",
        "pixi run --environment docs python -m pip check",
        "pixi run --environment docs zensical build --strict",
    ],
    "train": [
        "pixi install --locked --environment default",
        "pixi run --environment default python -m pip check",
        "pixi run --environment default demo-project train",
    ],
    "backfill": [
        "pixi install --locked --environment default",
        "pixi run --environment default python -m pip check",
        "pixi run --environment default demo-project backfill",
    ],
    "infra": [
        "pipx run --spec cfn-lint==1.58.0 cfn-lint infra/aws.yml",
        "pipx run --spec checkov==3.3.30 checkov --file infra/aws.yml --framework cloudformation --skip-download --quiet --compact",
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
    """Install the environment from pixi.lock: the package and every group, then check it."""
    run(session, "install")


@nox.session(python=False, default=False)
def lock(session: nox.Session) -> None:
    """Create or refresh pixi.lock after a dependency change."""
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


def _sides() -> dict[str, dict[str, str]]:
    """pixi.toml's conda and PyPI dependencies, every feature and target: {side: {name: table}}."""
    import tomllib  # noqa: PLC0415 (Python 3.11+, only for this task)

    manifest = tomllib.loads(Path(__file__).with_name("pixi.toml").read_text("utf-8"))
    scopes = [("", manifest)]
    scopes += [(f"feature.{name}.", table) for name, table in manifest.get("feature", {}).items()]
    scopes += [
        (f"{prefix}target.{target}.", table)
        for prefix, scope in list(scopes)
        for target, table in scope.get("target", {}).items()
    ]
    sides: dict[str, dict[str, str]] = {"conda": {}, "pypi": {}}
    for prefix, scope in scopes:
        for side, key in (("conda", "dependencies"), ("pypi", "pypi-dependencies")):
            for name in scope.get(key, {}):
                normalized = re.sub(r"[-_.]+", "-", name).lower()
                if normalized not in {"python", "pip"}:
                    sides[side].setdefault(normalized, f"pixi.toml [{prefix}{key}]")
    return sides


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
def infra(session: nox.Session) -> None:
    """Check infra/aws.yml: cfn-lint, then checkov's security policies."""
    run(session, "infra")


@nox.session(python=False, default=False)
def image(session: nox.Session) -> None:
    """Build the container image, then run it."""
    run(session, "image")


if __name__ == "__main__":
    nox.main()
