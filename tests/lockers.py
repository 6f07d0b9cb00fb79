"""Lock, install and run a rendered project with its dependency manager, for real.

The one place that knows how tests drive the managers. The commands themselves are not
written here: they come from `includes/managers.jinja` (the same table the generated
README is rendered from), so the install tier runs what the README tells users to run.
Only two things differ from a user's machine, both test set-up:

- `pyenv install --skip-existing` is not run (this machine cannot download Python); the
  pyenv interpreter of the version is put first on PATH instead, which is what pyenv's
  shims resolve to after that command.
- Poetry gets a test-only `pypi-simple` source (its PyPI JSON API is not served here).
- pip-compile reaches the index through a local front whose JSON API gives pypi.org's
  file URLs (tests/pypi_json.py): without it, it downloads and hashes every file of every
  pinned version. The line naming the front is taken out of the files it writes.

Managers keep their environments inside the project (`.venv`) and share their download
caches (the users' default cache directories), so nothing leaks between tests.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pypi_json
import pytest
import yaml

from helpers import BIN, include_module

PYENV_ROOT = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))

# The Python managers the install tier drives with their own commands; the conda family
# (conda, conda-poetry, pixi) cannot solve here: its Python side goes into a plain venv.
PYPI_MANAGERS = ["uv", "poetry", "pdm", "pipenv", "pip"]

# Test tool -> PyPI distribution that provides it (all of them are in the dev group).
TOOL_PACKAGES = {
    "uv": "uv",
    "poetry": "poetry",
    "pdm": "pdm",
    "pipenv": "pipenv",
    "pip-compile": "pip-tools",
    "conda-lock": "conda-lock",
}

# Environment variables from the test process that would steer a manager elsewhere.
_DROP = ("VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONPATH", "PYTHONHOME", "PYENV_VERSION", "UV_")

POETRY_TEST_SOURCE = """
# Test set-up only (never in the template): Poetry's JSON API is not reachable here.
[[tool.poetry.source]]
name = "pypi-simple"
url = "https://pypi.org/simple/"
priority = "primary"
"""


# Test set-up only (never in the template): zensical 0.0.74 and newer need zensical-ui, which
# this machine's package index does not serve. uv, Poetry, pip-tools and Pipenv fall back
# to 0.0.73 by themselves; PDM's resolver stops at the missing package instead.
PDM_TEST_OVERRIDE = """
# Test set-up only (never in the template): zensical-ui is not served here.
[tool.pdm.resolution.overrides]
zensical = ">=0.0.73,<0.0.74"
"""
TEST_ONLY = {
    "poetry": POETRY_TEST_SOURCE,
    "conda-poetry": POETRY_TEST_SOURCE,
    "pdm": PDM_TEST_OVERRIDE,
}
# What this machine cannot install, as the upper bound a test-only setting puts on a
# package: rendered files must not carry it (tests/test_groups.py), users get the newest.
TEST_MACHINE_LIMITS = {"zensical": "<0.0.74"}


def managers() -> dict[str, dict[str, Any]]:
    """The `managers` table of includes/managers.jinja, read the way Copier reads it."""
    return dict(include_module("managers").managers)


def toolchain_packages() -> set[str]:
    """conda-forge names of the extra languages' toolchains (includes/languages.jinja)."""
    return {
        _name(spec)
        for language in include_module("languages").languages.values()
        for spec in language["conda"]
    }


def _name(spec: str) -> str:
    return re.split(r"[\s<>=!~\[;]", spec, maxsplit=1)[0].lower()


def fill(command: str, python: str, env_name: str = "") -> str:
    """A table command with its placeholders filled in, as README.md shows it."""
    return command.replace("{python}", python).replace("{env}", env_name)


def python_path(version: str) -> str:
    """The pyenv interpreter of a minor version ("3.11"); skips when it is not installed."""
    versions = PYENV_ROOT / "versions"
    found = sorted(
        (path for path in versions.glob(f"{version}.*") if (path / "bin" / "python").exists()),
        key=lambda path: [int(part) for part in path.name.split(".") if part.isdigit()],
    )
    if not found:
        pytest.skip(
            f"Python {version} is not installed with pyenv under {versions} "
            f"(run `pyenv install {version}`)"
        )
    return str(found[-1] / "bin" / f"python{version}")


def manager_tool(name: str) -> str:
    """Path of a manager's command; installed into the test environment when missing."""
    for candidate in (BIN / name, shutil.which(name)):
        if candidate and Path(candidate).exists():
            return str(candidate)
    package = TOOL_PACKAGES[name]
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", package], check=True, timeout=600
    )
    return str(BIN / name)


def manager_env(python: str) -> dict[str, str]:
    """Environment for the managers: the version's interpreter first on PATH, in-project venvs."""
    interpreter_bin = str(Path(python_path(python)).parent)
    env = {key: value for key, value in os.environ.items() if not key.startswith(_DROP)}
    env = {key: value for key, value in env.items() if not key.startswith("PYTEST_")}
    env.update(
        {
            "PATH": os.pathsep.join([interpreter_bin, str(BIN), env.get("PATH", "")]),
            "UV_PYTHON_DOWNLOADS": "never",
            "POETRY_VIRTUALENVS_IN_PROJECT": "true",
            "POETRY_NO_INTERACTION": "1",
            "PIPENV_VENV_IN_PROJECT": "1",
            "PIPENV_IGNORE_VIRTUALENVS": "1",
            "PIPENV_YES": "1",
            "PIPENV_NOSPIN": "1",
            "PDM_CHECK_UPDATE": "false",
            "PDM_IGNORE_ACTIVE_VENV": "1",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "NO_COLOR": "1",
        }
    )
    return env


def shell(
    command: str,
    project: Path,
    python: str,
    check: bool = True,
    timeout: int = 900,
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run one README command line with bash in the project; fail the test on error."""
    result = subprocess.run(
        ["bash", "-c", command],
        cwd=project,
        env={**manager_env(python), **(extra_env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        pytest.fail(
            f"command failed ({result.returncode}) in {project}: {command}\n"
            f"--- stdout ---\n{result.stdout[-6000:]}\n--- stderr ---\n{result.stderr[-6000:]}",
            pytrace=False,
        )
    return result


def _python_of(project: Path) -> str:
    return (project / ".python-version").read_text(encoding="utf-8").strip()


def lock(project: Path, manager: str, python: str) -> None:
    """Create the lockfile(s) the README tells users to commit, with the README's commands."""
    if manager not in PYPI_MANAGERS:
        return  # conda family: the solve cannot run here (see install())
    if manager != "pip":  # pip-compile runs from the project's venv, like the README says
        manager_tool(manager)
    if manager in TEST_ONLY:
        pyproject = project / "pyproject.toml"
        pyproject.write_text(pyproject.read_text(encoding="utf-8") + TEST_ONLY[manager])
    _lock_commands(project, manager, python)


def _lock_commands(project: Path, manager: str, python: str) -> None:
    """The README's lock commands (after its `prepare` ones); pip's through the front."""
    table = managers()[manager]
    front = pypi_json.started() if manager == "pip" else ""
    extra_env = {"PIP_INDEX_URL": front} if front else {}
    for command in _prepare(table) + table["lock"]:
        shell(fill(command, python), project, python, extra_env=extra_env)
    if front:
        for name in table["lockfiles"]:
            path = project / name
            path.write_text(pypi_json.forget(path.read_text(encoding="utf-8"), front), "utf-8")


def install(project: Path, manager: str, python: str) -> None:
    """Install from the lockfile with the README's setup commands: the package and its
    test group (each task installs the other groups it uses).

    The conda family's environment cannot be solved here: its Python side is installed
    from PyPI into `.venv` with the same pins instead (see `conda_side_requirements`).
    """
    if manager not in PYPI_MANAGERS:
        _install_conda_side(project, manager, python)
        return
    if manager != "pip":
        manager_tool(manager)
    table = managers()[manager]
    for command in _prepare(table) + table["install"]:
        shell(fill(command, python), project, python)


def _prepare(table: dict[str, Any]) -> list[str]:
    """The README's `prepare` commands but `pyenv install` (see the module docstring)."""
    return [command for command in table["prepare"] if not command.startswith("pyenv install")]


def env_run(project: Path, manager: str, args: list[str]) -> subprocess.CompletedProcess[str]:
    """Run a command inside the project environment, with the README's prefix."""
    prefix = managers()[manager]["exec"] if manager in PYPI_MANAGERS else ".venv/bin/"
    quoted = " ".join(_quote(arg) for arg in args)
    return shell(prefix + quoted, project, _python_of(project))


def everyday_commands(project: Path) -> list[str]:
    """README's "Everyday commands" block: one `nox -s TASK` a line."""
    readme = (project / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Everyday commands", 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [line for line in block.splitlines() if line and not line.startswith("#")]
    assert commands, "README has no everyday commands"
    assert all(re.fullmatch(r"nox -s \w+", line) for line in commands), commands
    return commands


def _quote(arg: str) -> str:
    return shlex.quote(arg)


# --- the conda family: the Python side, from PyPI -------------------------------------


def conda_side_requirements(project: Path, manager: str) -> list[str]:
    """PEP 508 requirements the conda family's files pin for the Python side, every
    dependency group included.

    conda: environment.yml's and environment-<group>.yml's packages (except python and
    pip); pixi: pixi.toml's dependencies and every feature's; conda-poetry: pyproject's
    dependency groups (Poetry installs them).
    """
    if manager == "conda":
        specs = []
        for path in sorted(project.glob("environment*.yml")):
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            specs += [dep for dep in data["dependencies"] if isinstance(dep, str)]
        skip = {"python", "pip", *toolchain_packages()}
        return [spec for spec in specs if _name(spec) not in skip]
    if manager == "pixi":
        data = tomllib.loads((project / "pixi.toml").read_text(encoding="utf-8"))
        tables = [data.get("dependencies", {})]
        tables += [feature.get("dependencies", {}) for feature in data["feature"].values()]
        return sorted(
            {
                f"{name}{spec}" if spec != "*" else name
                for table in tables
                for name, spec in table.items()
                if name not in {"python", *toolchain_packages()} and isinstance(spec, str)
            }
        )
    if manager == "conda-poetry":
        data = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
        return [spec for group in data["dependency-groups"].values() for spec in group]
    raise ValueError(manager)


def _install_conda_side(project: Path, manager: str, python: str) -> None:
    uv = manager_tool("uv")
    shell(f"{uv} venv --quiet --python {python_path(python)} .venv", project, python)
    requirements = " ".join(_quote(req) for req in conda_side_requirements(project, manager))
    shell(
        f"{uv} pip install --quiet --python .venv/bin/python --editable . {requirements}",
        project,
        python,
    )


# --- a user's runtime dependency, and whether the lock still matches ----------------------


def runtime_dependencies(project: Path) -> set[str]:
    """Normalized names in pyproject.toml's `[project] dependencies`."""
    data = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    return {re.sub(r"[-_.]+", "-", _name(spec)) for spec in data["project"]["dependencies"]}


def add_dependency(project: Path, manager: str, python: str, spec: str) -> None:
    """Add a runtime dependency the way README.md says for the manager, lock included.

    With an `add` command (managers.jinja) that command; otherwise an edit of
    pyproject.toml's `dependencies` and the `lock` commands. The conda family lists it in
    its own file as well (environment.yml; pixi.toml, for a conda-forge build), which
    cannot be solved here; conda-poetry's `poetry add` only locks (`--lock`), since
    installing needs the conda environment.
    """
    table = managers()[manager]
    if table["add"] and manager in PYPI_MANAGERS:
        manager_tool(manager)
        shell(fill(table["add"], python).replace("{package}", shlex.quote(spec)), project, python)
        return
    if manager == "conda-poetry":
        in_conda_env(f"poetry add --lock {shlex.quote(spec)}", project, python)
        return
    _append_dependency(project / "pyproject.toml", spec)
    if manager == "conda":
        path = project / "environment.yml"
        path.write_text(path.read_text(encoding="utf-8") + f"  - {spec}\n", encoding="utf-8")
    elif manager == "pixi":
        path = project / "pixi.toml"
        text = path.read_text(encoding="utf-8")
        name, version = re.fullmatch(r"([A-Za-z0-9._-]+)(.*)", spec).groups()  # type: ignore[union-attr]
        entry = f'{name} = "{version or "*"}"\n'
        path.write_text(text.replace("\n[pypi-dependencies]", f"{entry}\n[pypi-dependencies]", 1))
    if manager in PYPI_MANAGERS:
        _lock_commands(project, manager, python)


def _append_dependency(pyproject: Path, spec: str) -> None:
    text = pyproject.read_text(encoding="utf-8")
    if "dependencies = []\n" in text:
        text = text.replace("dependencies = []\n", f'dependencies = ["{spec}"]\n', 1)
    else:
        assert text.count("\ndependencies = [\n") == 1, "pyproject.toml: no dependencies list"
        text = text.replace("\ndependencies = [\n", f'\ndependencies = [\n  "{spec}",\n', 1)
    pyproject.write_text(text, encoding="utf-8")


def lock_check(project: Path, manager: str, python: str) -> None:
    """The lockfile still matches the manifests: the manager's own check where it has one
    (uv, Poetry, PDM; Pipenv's covers the Pipfile), for pip a relock that must change
    nothing, and every runtime dependency of pyproject.toml in the lockfile. The conda
    family's files cannot be solved here; conda-poetry's poetry.lock is checked."""
    table = managers()[manager]
    checks = {
        "uv": ["uv lock --check"],
        "poetry": ["poetry check --lock"],
        "conda-poetry": ["poetry check --lock"],
        "pdm": ["pdm lock --check"],
        "pipenv": ["pipenv verify"],
    }
    if manager == "pip":
        before = {name: (project / name).read_bytes() for name in table["lockfiles"]}
        _lock_commands(project, manager, python)
        after = {name: (project / name).read_bytes() for name in table["lockfiles"]}
        assert after == before, "pip-compile changed the committed requirements files"
    for command in checks.get(manager, []):
        if manager == "conda-poetry":
            in_conda_env(command, project, python)
            continue
        manager_tool(command.split()[0])
        shell(command, project, python)
    if manager in {"conda", "pixi"}:
        return
    locked = (project / table["lockfile"]).read_text(encoding="utf-8").lower()
    for name in runtime_dependencies(project):
        assert re.search(rf"\b{re.escape(name)}\b", re.sub(r"[_.]", "-", locked)), (
            f"{name} is not in {table['lockfile']}"
        )


def in_conda_env(command: str, project: Path, python: str) -> subprocess.CompletedProcess[str]:
    """A Poetry command of conda-poetry's README, in its activated conda environment.

    That environment cannot be created here; a venv of the same Python beside the project,
    activated the same way (VIRTUAL_ENV and PATH), stands in for it: poetry.toml turns off
    Poetry's own virtualenvs, so Poetry uses the active environment, as it uses conda's.
    """
    poetry = manager_tool("poetry")
    venv = project.parent / f"{project.name}-conda-env"
    if not (venv / "bin" / "python").exists():
        uv = manager_tool("uv")
        shell(f"{uv} venv --quiet --python {python_path(python)} {venv}", project, python)
    activate = f'VIRTUAL_ENV="{venv}" PATH="{venv}/bin:$PATH" '
    return shell(activate + command.replace("poetry", poetry, 1), project, python)
