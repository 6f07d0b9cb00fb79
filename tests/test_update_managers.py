"""Install tier: updating a real project, for every dependency manager.

For each manager: render the older release (tests/template_repo.py, OLD_TAG), lock and
commit as README.md says, then edit the way users do (a runtime dependency added with
the manager's own command and its refreshed lockfile committed; a module and its test; a
reworded README line; a CI step; a changed Dockerfile line), and `copier update` to
today's template. The result must be a fresh render of today's template plus exactly
those edits, with no conflict, a lockfile that still matches, and green tests.

Then answers change by `copier update --data`: every manager to uv, and uv to Poetry,
PDM, conda + Poetry and pixi; Python 3.13 to 3.12; an extra language added. The user's
runtime dependency and code survive, the old manager's files are gone (its lockfile by
the `git rm` README.md asks for), and the new manager's own commands go green.

The conda family cannot solve here (conda-forge is unreachable): environment.yml and
pixi.toml are edited and checked statically, and their Python side is installed from PyPI
with the same pins (tests/lockers.py), as in test_managers.py. conda-poetry's poetry.lock
is made and checked by Poetry itself.

Poetry needs a test-only package source here (lockers.POETRY_TEST_SOURCE, appended to
pyproject.toml before locking, as the install tier always does). It is committed with the
user's edits, so the update must carry it like any user hunk; the pyproject check below
accounts for it explicitly.
"""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

import lockers
import template_repo as tr
import test_pins
from helpers import run, tool
from matrix import BASE, choices

pytestmark = pytest.mark.install

PYTHON = "3.13"
PACKAGE = BASE["package_name"]
MANAGERS = choices("dependency_manager")
FROM_UV = ["poetry", "pdm", "conda-poetry", "pixi"]
# Renders whose lines the user's edits must not touch, besides the project's own: uv's
# changes of answer (see the tests at the end).
UV_VARIANTS: list[dict[str, object]] = [
    *({"dependency_manager": target} for target in FROM_UV),
    {"python_version": "3.12"},
    {"extra_languages": ["node"]},
]


def answers(manager: str, **extra: object) -> dict[str, object]:
    return {**BASE, "dependency_manager": manager, "python_version": PYTHON, **extra}


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("update-managers")


@pytest.fixture(scope="session")
def template(workspace: Path) -> Path:
    return tr.build(workspace / "groundwork")


_FRESH: dict[str, Path] = {}


def fresh(template: Path, workspace: Path, manager: str, **extra: object) -> Path:
    """A fresh render of today's template (NEW_TAG), once per worker."""
    full = answers(manager, **extra)
    key = repr(sorted(full.items()))
    if key not in _FRESH:
        target = workspace / f"fresh-{len(_FRESH)}"
        _FRESH[key] = tr.render(template, full, target, tr.NEW_TAG)
    return _FRESH[key]


@dataclass
class Updated:
    project: Path
    start: str  # the render of OLD_TAG, as committed
    edited: str  # the user's last commit before the update


_UPDATED: dict[str, Updated] = {}


def updated(template: Path, workspace: Path, manager: str) -> Updated:
    """A project of this manager, rendered at OLD_TAG, locked, edited and updated."""
    if manager in _UPDATED:
        return _UPDATED[manager]
    project = tr.render(
        template, answers(manager), workspace / f"project-{manager}", tr.OLD_TAG, init=True
    )
    start = tr.git(project, "rev-parse", "HEAD").strip()
    # README: lock, then commit, before the first push.
    lockers.lock(project, manager, PYTHON)
    if manager == "conda-poetry":  # `poetry lock`, in the conda environment on a laptop
        pyproject = project / "pyproject.toml"
        pyproject.write_text(pyproject.read_text(encoding="utf-8") + lockers.POETRY_TEST_SOURCE)
        lockers.in_conda_env("poetry lock", project, PYTHON)
    tr.commit_all(project, "Lock")
    # The user's edits.
    lockers.add_dependency(project, manager, PYTHON, tr.DEPENDENCY_SPEC)
    renders = [fresh(template, workspace, manager), fresh(template, workspace, "uv")]
    if manager == "uv":
        renders += [fresh(template, workspace, "uv", **variant) for variant in UV_VARIANTS]
    tr.edit_like_a_user(project, PACKAGE, renders)
    tr.commit_all(project, "Add the TOML export")
    edited = tr.git(project, "rev-parse", "HEAD").strip()

    tr.update(project)

    _UPDATED[manager] = Updated(project, start, edited)
    return _UPDATED[manager]


def committed_copy(source: Path, target: Path) -> Path:
    """A copy of an updated project (without its environment), the update committed."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".venv", ".pdm-python"))
    tr.commit_all(target, "Update from the template")
    return target


def run_tests(project: Path, manager: str) -> None:
    """Install from the lockfile and run the tests, with the README's commands."""
    lockers.install(project, manager, PYTHON)
    if manager in lockers.PYPI_MANAGERS:
        lockers.shell(lockers.managers()[manager]["test"], project, PYTHON)
    else:
        lockers.env_run(project, manager, ["pytest"])


def group(name: str) -> pytest.MarkDecorator:
    """Tests that share one updated project run on one xdist worker."""
    return pytest.mark.xdist_group(f"update-{name}")


# --- the update to today's template --------------------------------------------------------


@pytest.mark.parametrize("manager", [pytest.param(m, marks=group(m)) for m in MANAGERS])
def test_update_keeps_every_user_edit(
    template: Path, workspace: Path, tmp_path: Path, manager: str
) -> None:
    state = updated(template, workspace, manager)
    project = state.project

    assert tr.conflicted(project) == []
    assert tr.files_with_markers(project) == []
    new = fresh(template, workspace, manager)
    expected = tr.expected_after_update(
        project, state.start, state.edited, new, PACKAGE, tmp_path / "expected"
    )
    actual = tr.listed_files(project)
    differ = sorted(
        name for name in set(actual) | set(expected) if actual.get(name) != expected.get(name)
    )
    assert differ == [], f"not a fresh render plus the user's hunks: {differ}"

    # pyproject.toml: the fresh render's lines, plus the dependency (written by the
    # manager's command, in its own style) and, for Poetry, the test-only source.
    ours = (project / "pyproject.toml").read_text(encoding="utf-8").splitlines()
    theirs = set((new / "pyproject.toml").read_text(encoding="utf-8").splitlines())
    test_only = set(lockers.TEST_ONLY.get(manager, "").splitlines())
    for line in ours:
        if line in theirs or line in test_only:
            continue
        assert tr.DEPENDENCY in line or line.strip() in {"dependencies = [", "]"}, line
    assert tr.DEPENDENCY in lockers.runtime_dependencies(project)
    if manager in {"poetry", "conda-poetry"}:
        assert "[[tool.poetry.source]]" in ours

    lockers.lock_check(project, manager, PYTHON)
    run_tests(project, manager)


# --- changing the dependency manager ---------------------------------------------------------


def switch(template: Path, workspace: Path, project: Path, source: str, target: str) -> None:
    """`copier update --data dependency_manager=TARGET`, then README's clean-up."""
    code_before = {
        k: v for k, v in tr.listed_files(project).items() if k.startswith(("src/", "tests/"))
    }
    dependencies = lockers.runtime_dependencies(project)
    assert tr.DEPENDENCY in dependencies

    tr.update(project, f"--data=dependency_manager={target}")

    assert tr.conflicted(project) == []
    assert tr.files_with_markers(project) == []
    table = lockers.managers()
    old_locks = [f for f in table[source]["lockfiles"] if f not in table[target]["lockfiles"]]
    for name in old_locks:  # README: `git rm` the previous manager's lock file
        if (project / name).exists():
            tr.git(project, "rm", "--quiet", name)
    # README deletes the environment first; test_the_readme_deletes_the_environment runs
    # those commands. This copy's in-project environment is not copied (committed_copy).
    shutil.rmtree(project / ".venv", ignore_errors=True)

    old_files = set(tr.tree(fresh(template, workspace, source)))
    new_files = set(tr.tree(fresh(template, workspace, target)))
    for name in sorted((old_files - new_files) | set(old_locks)):
        assert not (project / name).exists(), f"{name} of {source} is still there"
    for name in sorted(new_files - old_files):
        assert (project / name).exists(), f"{name} of {target} is missing"
    code_after = {
        k: v for k, v in tr.listed_files(project).items() if k.startswith(("src/", "tests/"))
    }
    assert code_after == code_before, "the switch changed the user's code or tests"
    assert lockers.runtime_dependencies(project) == dependencies
    assert (
        yaml.safe_load((project / ".copier-answers.yml").read_text())["dependency_manager"]
        == target
    )


def go_green(project: Path, manager: str) -> None:
    """The manager's own commands, from lock to tests, as far as they run here."""
    if manager in lockers.PYPI_MANAGERS:
        lockers.lock(project, manager, PYTHON)
        lockers.lock_check(project, manager, PYTHON)
        run_tests(project, manager)
        return
    if manager in {"conda", "conda-poetry"}:
        environment = yaml.safe_load((project / "environment.yml").read_text(encoding="utf-8"))
        assert f"python={PYTHON}" in environment["dependencies"]
    if manager == "conda-poetry":
        pyproject = project / "pyproject.toml"
        if "[[tool.poetry.source]]" not in pyproject.read_text(encoding="utf-8"):
            pyproject.write_text(pyproject.read_text(encoding="utf-8") + lockers.POETRY_TEST_SOURCE)
        lockers.in_conda_env("poetry lock", project, PYTHON)
        lockers.lock_check(project, manager, PYTHON)
    if manager == "pixi":
        pixi = tomllib.loads((project / "pixi.toml").read_text(encoding="utf-8"))
        assert pixi["dependencies"]["python"] == f"{PYTHON}.*"
        if test_pins.PIXI_SCHEMA.is_file():
            run(
                [
                    tool("check-jsonschema"),
                    "--schemafile",
                    str(test_pins.PIXI_SCHEMA),
                    str(project / "pixi.toml"),
                ]
            )
    run_tests(project, manager)


@pytest.mark.parametrize("source", [pytest.param(m, marks=group(m)) for m in MANAGERS if m != "uv"])
def test_switch_to_uv(template: Path, workspace: Path, tmp_path: Path, source: str) -> None:
    project = committed_copy(updated(template, workspace, source).project, tmp_path / "p")
    switch(template, workspace, project, source, "uv")
    go_green(project, "uv")
    assert tr.DEPENDENCY in (project / "uv.lock").read_text(encoding="utf-8")


@pytest.mark.parametrize("target", FROM_UV)
@group("uv")
def test_switch_from_uv(template: Path, workspace: Path, tmp_path: Path, target: str) -> None:
    project = committed_copy(updated(template, workspace, "uv").project, tmp_path / "p")
    switch(template, workspace, project, "uv", target)
    go_green(project, target)


# --- other answers ------------------------------------------------------------------------------


@group("uv")
def test_a_new_python_version(template: Path, workspace: Path, tmp_path: Path) -> None:
    """Every pin moves together; relocked (requires-python changed), tests on 3.12."""
    project = committed_copy(updated(template, workspace, "uv").project, tmp_path / "p")
    tr.update(project, "--data=python_version=3.12")
    assert tr.conflicted(project) == []
    recorded = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    pins: dict[str, str] = {}
    for reader in test_pins.PIN_READERS:
        pins.update(reader(project, recorded))
    assert set(pins.values()) == {"3.12"}, pins
    ci = yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8"))
    assert ci["jobs"]["test"]["strategy"]["matrix"]["python-version"][0] == "3.12"

    lockers.lock(project, "uv", "3.12")
    lockers.install(project, "uv", "3.12")
    version = lockers.env_run(
        project, "uv", ["python", "-c", "import sys; print(sys.version_info[:2])"]
    )
    assert version.stdout.strip() == "(3, 12)"
    lockers.shell("uv run pytest", project, "3.12")
    assert tr.DEPENDENCY in lockers.runtime_dependencies(project)


@group("uv")
def test_an_extra_language(template: Path, workspace: Path, tmp_path: Path) -> None:
    """Node.js added later: its code and tests arrive, the lock still holds, tests pass."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed: the Node.js tests cannot run")
    project = committed_copy(updated(template, workspace, "uv").project, tmp_path / "p")
    tr.update(project, '--data=extra_languages=["node"]')
    assert tr.conflicted(project) == []
    for name in (
        "src/demo_project/node/report.js",
        "src/demo_project/report.py",
        "tests/test_report.py",
    ):
        assert (project / name).is_file(), name
    run_tests(project, "uv")
    result = lockers.shell("uv run pytest -rs tests/test_report.py", project, PYTHON)
    assert "passed" in result.stdout
    assert "skipped" not in result.stdout


# --- deleting the previous manager's environment --------------------------------------------

# How each manager makes the project's environment without installing anything, and where
# it then is (a command that prints the path, or a path in the project).
MAKE_ENVIRONMENT = {
    "uv": ("uv venv", ".venv"),
    "poetry": ("poetry env use python{python}", "poetry env info --path"),
    "pdm": ("pdm use -f python{python}", ".venv"),
    "pipenv": ("pipenv --python python{python}", "pipenv --venv"),
    "pip": ("python{python} -m venv .venv", ".venv"),
}
IN_PROJECT = {"POETRY_VIRTUALENVS_IN_PROJECT", "PIPENV_VENV_IN_PROJECT"}


def readme_switch_commands(project: Path) -> list[str]:
    """The command block of README.md's "Updating from the template" for a switch."""
    readme = (project / "README.md").read_text(encoding="utf-8")
    section = readme.split("<!-- groundwork: updating -->", 1)[1]
    block = section.split("To switch to another dependency manager", 1)[1]
    return block.split("```bash\n", 1)[1].split("```", 1)[0].splitlines()


@pytest.mark.parametrize(
    ("manager", "in_project"),
    [("uv", True), ("poetry", False), ("poetry", True), ("pdm", True), ("pipenv", False),
     ("pipenv", True), ("pip", True)],
)  # fmt: skip
def test_the_readme_deletes_the_environment(
    template: Path, workspace: Path, tmp_path: Path, manager: str, in_project: bool
) -> None:
    """README's commands before a switch delete the environment where the manager keeps
    it: in the project, or in Poetry's cache and Pipenv's WORKON_HOME by default (a home
    of the test's own here), nothing else of the project."""
    project = tmp_path / "project"
    shutil.copytree(fresh(template, workspace, manager), project)
    env = lockers.manager_env(PYTHON)
    home = tmp_path / "home"
    home.mkdir()
    env.update({"HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"),
                "XDG_DATA_HOME": str(home / ".local" / "share"),
                "XDG_CONFIG_HOME": str(home / ".config")})  # fmt: skip
    for key in ("POETRY_CACHE_DIR", "WORKON_HOME", "POETRY_VIRTUALENVS_PATH"):
        env.pop(key, None)
    if not in_project:
        for key in IN_PROJECT:
            env.pop(key, None)

    def bash(command: str) -> str:
        result = subprocess.run(["bash", "-c", command], cwd=project, env=env,
                                capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
        return result.stdout.strip()

    make, where = MAKE_ENVIRONMENT[manager]
    bash(make.replace("{python}", PYTHON))
    location = project / where if where == ".venv" else Path(bash(where).splitlines()[-1])
    assert (location / "bin" / "python").exists(), location
    assert location.is_relative_to(project) == in_project, location
    before = set(tr.tree(project, skip=[".pdm-python"]))

    commands = readme_switch_commands(project)
    switch_at = next(i for i, line in enumerate(commands) if line.startswith("copier update"))
    removal = commands[:switch_at]
    assert removal == lockers.managers()[manager]["remove_env"]
    for command in removal:
        bash(command)

    assert not location.exists(), f"{location} is still there"
    assert set(tr.tree(project, skip=[".pdm-python"])) == before, "only the environment went"
    if not in_project:
        leftovers = [p for p in home.rglob("bin/python")]
        assert leftovers == [], leftovers


def test_the_readme_deletes_a_conda_or_pixi_environment_by_its_name(
    template: Path, workspace: Path
) -> None:
    """No conda or pixi here: the commands name the environment the files create."""
    for manager in ("conda", "conda-poetry"):
        project = fresh(template, workspace, manager)
        name = yaml.safe_load((project / "environment.yml").read_text(encoding="utf-8"))["name"]
        commands = readme_switch_commands(project)
        assert f"conda remove --name {name} --all --yes" in commands
        assert commands.index("conda deactivate") < commands.index(
            f"conda remove --name {name} --all --yes"
        )
    pixi = fresh(template, workspace, "pixi")
    assert readme_switch_commands(pixi)[0] == "rm -rf .pixi"
    assert ".pixi" in (pixi / ".gitignore").read_text(encoding="utf-8"), "pixi's envs live there"
