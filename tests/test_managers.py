"""Install tier: each dependency manager locks, installs and tests a rendered project for real.

The Python managers (uv, Poetry, PDM, Pipenv, pip) run the README's own commands
(tests/lockers.py reads them from includes/managers.jinja) for every project kind on the
oldest and a newer supported Python. The conda family cannot solve here: its Python side
is installed from PyPI into a venv with the pins of its environment file, and the solve
itself is a separate test that skips with an `offline:` reason where conda-forge is
unreachable.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from functools import cache
from pathlib import Path

import pytest

import lockers
from helpers import OFFLINE_SKIP, params, tool
from matrix import Answers, choices, complete

pytestmark = pytest.mark.install

PYTHONS = ["3.11", "3.13"]
CONDA_FAMILY = ["conda", "conda-poetry", "pixi"]

PYPI_ROWS = [
    complete({"dependency_manager": manager, "project_kind": kind, "python_version": python})
    for manager in lockers.PYPI_MANAGERS
    for kind in choices("project_kind")
    for python in PYTHONS
]
CONDA_ROWS = [
    complete({"dependency_manager": manager, "project_kind": kind})
    for manager in CONDA_FAMILY
    for kind in choices("project_kind")
]

VERSION = "import sys; print('%d.%d' % sys.version_info[:2])"


def check_environment(
    project: Path,
    manager: str,
    answers: Answers,
    tools: tuple[str, ...] = ("pytest", "ruff", "mypy"),
) -> None:
    """The environment is the project's own, on the pinned Python, with the package in it."""
    result = lockers.env_run(project, manager, ["python", "-c", VERSION])
    assert result.stdout.strip() == answers["python_version"]
    # The test tools are inside the project environment, so the README's test command
    # cannot fall through to a pytest found elsewhere on PATH.
    for name in tools:
        assert (project / ".venv" / "bin" / name).is_file(), f"{name} is not in .venv"
    package = answers["package_name"]
    where = lockers.env_run(
        project, manager, ["python", "-c", f"import {package}; print({package}.__file__)"]
    )
    installed = Path(where.stdout.strip()).resolve()
    assert installed == (project / "src" / package / "__init__.py").resolve(), (
        "the package is installed in editable mode from src/"
    )


@pytest.mark.parametrize("answers", params(PYPI_ROWS))
def test_lock_install_test_lint(render_copy, answers: Answers) -> None:  # type: ignore[no-untyped-def]
    full = complete(answers)
    manager, python = full["dependency_manager"], full["python_version"]
    project = render_copy(full)
    table = lockers.managers()[manager]

    lockers.lock(project, manager, python)
    for lockfile in table["lockfiles"]:
        assert (project / lockfile).is_file(), f"{lockfile} was not created"
    lockers.install(project, manager, python)
    # The README's first green installs the package and its test group, nothing else.
    check_environment(project, manager, full, tools=("pytest",))
    for name in ("ruff", "mypy", "zensical"):
        assert not (project / ".venv" / "bin" / name).exists(), f"{name}: not a test tool"

    # README: `nox` alone runs the checks (lint, typecheck, test), with the manager's
    # commands; each installs its own group and checks the environment first.
    lockers.shell(table["test"], project, python)
    result = lockers.shell("nox", project, python)
    for task in ("lint", "typecheck", "test"):
        assert f"* {task}: success" in result.stdout + result.stderr, task
    check_environment(project, manager, full)
    assert not (project / ".venv" / "bin" / "zensical").exists(), "docs: its own task's group"


@pytest.mark.parametrize("answers", params(CONDA_ROWS))
def test_conda_family_python_side(render_copy, answers: Answers) -> None:  # type: ignore[no-untyped-def]
    """The Python side of environment.yml / pixi.toml / pyproject, from PyPI with the same pins."""
    full = complete(answers)
    manager, python = full["dependency_manager"], full["python_version"]
    project = render_copy(full)
    lockers.install(project, manager, python)
    check_environment(project, manager, full)
    # nox's checks and docs tasks run these in the activated environment (pixi: `pixi run`).
    for command in ["pytest", "ruff check .", "ruff format --check .", "mypy"]:
        lockers.env_run(project, manager, command.split())
    lockers.env_run(project, manager, ["zensical", "build", "--strict"])


@cache
def conda_forge_reachable() -> bool:
    request = urllib.request.Request(
        "https://conda.anaconda.org/conda-forge/noarch/repodata.json", method="HEAD"
    )
    try:
        with urllib.request.urlopen(request, timeout=10):
            return True
    except (urllib.error.URLError, TimeoutError, OSError):
        return False


@pytest.mark.parametrize(
    "answers", params(complete({"dependency_manager": manager}) for manager in CONDA_FAMILY)
)
def test_conda_solve(render_copy, answers: Answers) -> None:  # type: ignore[no-untyped-def]
    """The conda-forge solve of the environment file, with the README's lock command."""
    if not conda_forge_reachable():
        pytest.skip(f"{OFFLINE_SKIP} conda-forge is not reachable from this machine")
    full = complete(answers)
    manager = full["dependency_manager"]
    project = render_copy(full)
    if manager == "pixi":
        command = [tool("pixi"), "lock"]
        lockfile = "pixi.lock"
    else:
        command = [lockers.manager_tool("conda-lock"), "lock", "--file", "environment.yml"]
        lockfile = "conda-lock.yml"
    lockers.shell(" ".join(command), project, full["python_version"])
    assert (project / lockfile).is_file()
