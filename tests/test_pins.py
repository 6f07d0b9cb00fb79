"""Fast tier: one Python version everywhere, and the conda family's files agree with pyproject.

For every dependency manager x python_version render, each reader below collects the
Python versions one kind of file pins, as {where: "X.Y"}; they must all equal the
python_version answer. To cover another file (Dockerfile base image, CI matrix), add a
reader that returns its pins and append it to PIN_READERS.

The second half checks the conda family statically (environment.yml, pixi.toml,
poetry.toml): channels, the package lists against pyproject.toml, the pixi schema.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml

import lockers
from helpers import OFFLINE_SKIP, include_module, params, run, tool
from matrix import Answers, choices, complete, manager_x_kind, manager_x_python

if TYPE_CHECKING:
    from collections.abc import Callable

Pins = dict[str, str]

PIXI_SCHEMA = Path("/work/shared/schemas/pixi-manifest.schema.json")


def _toml(path: Path) -> dict:  # type: ignore[type-arg]
    return tomllib.loads(path.read_text(encoding="utf-8"))


def _yaml(path: Path) -> dict:  # type: ignore[type-arg]
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# --- readers: file kind -> {where: "X.Y"} -------------------------------------------------


def python_version_file(project: Path, answers: Answers) -> Pins:
    return {".python-version": (project / ".python-version").read_text(encoding="utf-8").strip()}


def pyproject_pins(project: Path, answers: Answers) -> Pins:
    data = _toml(project / "pyproject.toml")
    requires = data["project"]["requires-python"]
    floor = re.fullmatch(r">=(3\.\d+)", requires)
    assert floor, f"requires-python should be '>=X.Y', got {requires!r}"
    # ruff reads its target version from requires-python (sp-repo-review RF002): a second
    # copy in [tool.ruff] could drift.
    assert "target-version" not in data["tool"]["ruff"], "ruff should infer it"
    classified = [
        c.rsplit(" :: ", 1)[1]
        for c in data["project"]["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    ]
    assert classified, "no 'Programming Language :: Python :: 3.X' classifier"
    supported = choices("python_version")
    expected = supported[supported.index(answers["python_version"]) :]
    assert classified == expected, "classifiers: python_version and every newer supported one"
    return {
        "pyproject requires-python": floor.group(1),
        "pyproject lowest classifier": classified[0],
        "mypy python_version": data["tool"]["mypy"]["python_version"],
    }


def environment_yml_pins(project: Path, answers: Answers) -> Pins:
    if answers["dependency_manager"] not in {"conda", "conda-poetry"}:
        return {}
    deps = _yaml(project / "environment.yml")["dependencies"]
    pythons = [d for d in deps if isinstance(d, str) and re.match(r"python\b(?!-)", d)]
    assert len(pythons) == 1, f"environment.yml should pin python once: {pythons}"
    pin = re.fullmatch(r"python=(3\.\d+)", pythons[0])
    assert pin, f"environment.yml: expected 'python=X.Y', got {pythons[0]!r}"
    return {"environment.yml python": pin.group(1)}


def pixi_pins(project: Path, answers: Answers) -> Pins:
    if answers["dependency_manager"] != "pixi":
        return {}
    spec = _toml(project / "pixi.toml")["dependencies"]["python"]
    pin = re.fullmatch(r"(3\.\d+)\.\*", spec)
    assert pin, f"pixi.toml: expected python = 'X.Y.*', got {spec!r}"
    return {"pixi.toml python": pin.group(1)}


def pipfile_pins(project: Path, answers: Answers) -> Pins:
    if answers["dependency_manager"] != "pipenv":
        return {}
    return {"Pipfile python_version": _toml(project / "Pipfile")["requires"]["python_version"]}


def dockerfile_pins(project: Path, answers: Answers) -> Pins:
    """The python:X.Y-slim images of the Dockerfile (the conda family's come from its files)."""
    text = (project / "Dockerfile").read_text(encoding="utf-8")
    images = re.findall(r"^FROM python:(\S+) AS (\S+)$", text, re.MULTILINE)
    for tag, _stage in images:
        assert re.fullmatch(r"3\.\d+-slim", tag), f"Dockerfile: python:X.Y-slim, not {tag!r}"
    if answers["dependency_manager"] in {"uv", "poetry", "pdm", "pipenv", "pip"}:
        assert {stage for _tag, stage in images} == {"deps", "runtime"}, images
    return {f"Dockerfile {stage} image": tag.removesuffix("-slim") for tag, stage in images}


PIN_READERS: list[Callable[[Path, Answers], Pins]] = [
    python_version_file,
    pyproject_pins,
    environment_yml_pins,
    pixi_pins,
    pipfile_pins,
    dockerfile_pins,
]


@pytest.mark.parametrize("reader", PIN_READERS, ids=lambda reader: reader.__name__)
@pytest.mark.parametrize("answers", params(manager_x_python()))
def test_one_python_version(render, answers: Answers, reader) -> None:  # type: ignore[no-untyped-def]
    full = complete(answers)
    pins = reader(render(full), full)
    assert pins == dict.fromkeys(pins, full["python_version"])


def test_every_manager_has_its_python_pin(render) -> None:  # type: ignore[no-untyped-def]
    """Each manager's own environment file pins Python (no reader silently finds nothing)."""
    own = {
        "conda": environment_yml_pins,
        "conda-poetry": environment_yml_pins,
        "pixi": pixi_pins,
        "pipenv": pipfile_pins,
    }
    for manager, reader in own.items():
        full = complete({"dependency_manager": manager})
        assert reader(render(full), full), manager


# --- the conda family, statically -------------------------------------------------------

CONDA_FAMILY = [
    row
    for row in manager_x_kind()
    if row["dependency_manager"] in {"conda", "conda-poetry", "pixi"}
]


def requirement_name(spec: str) -> str:
    return re.split(r"[\s<>=!~\[;]", spec, maxsplit=1)[0].lower()


def pyproject_dependencies(project: Path) -> dict[str, str]:
    """name -> full PEP 508 requirement of the package's runtime dependencies."""
    deps = _toml(project / "pyproject.toml")["project"]["dependencies"]
    return {requirement_name(d): d.replace(" ", "") for d in deps}


@pytest.mark.parametrize(
    "answers", params(row for row in CONDA_FAMILY if row["dependency_manager"] != "pixi")
)
def test_environment_yml(render, answers: Answers) -> None:
    full = complete(answers)
    project = render(full)
    data = _yaml(project / "environment.yml")
    assert data["name"] == full["package_name"].replace("_", "-")
    assert data["channels"] == ["conda-forge", "nodefaults"]
    specs = [d for d in data["dependencies"] if isinstance(d, str)]
    assert not [d for d in data["dependencies"] if not isinstance(d, str)], (
        "no pip: section (conda-lock cannot lock it; the README installs the package)"
    )
    conda_names = {requirement_name(spec): spec.replace(" ", "") for spec in specs}
    runtime = pyproject_dependencies(project)
    groups = include_module("managers")
    if full["dependency_manager"] == "conda":
        # conda owns every dependency: the package's, with the same bounds, and the dev
        # tools, one file per dependency group (a conda-lock category of the same name).
        for name, requirement in runtime.items():
            assert conda_names.get(name) == requirement, f"{name}: environment.yml vs pyproject"
        assert "pip" in conda_names, "pip installs the package itself"
        assert not {"pytest", "ruff", "mypy"} & set(conda_names), "dev tools are in groups"
        assert "category" not in data, "environment.yml is the main category"
        files = sorted(path.name for path in project.glob("environment-*.yml"))
        assert files == sorted(f"environment-{name}.yml" for name in groups.group_names)
        for name in groups.group_names:
            group = _yaml(project / f"environment-{name}.yml")
            assert group["category"] == name
            assert group["channels"] == data["channels"]
            expected = groups.group_requirements(name, full["project_kind"], full["deploy_target"])
            assert group["dependencies"] == json.loads(str(expected)), name
    else:
        # conda-poetry: conda holds Python, toolchains and Poetry; Poetry owns Python packages.
        assert "poetry" in conda_names
        overlap = set(runtime) & set(conda_names)
        assert not overlap, f"Python packages belong in pyproject.toml: {overlap}"
        assert not {"pytest", "ruff", "mypy"} & set(conda_names)
        poetry_toml = _toml(project / "poetry.toml")
        assert poetry_toml == {"virtualenvs": {"create": False}}
        declared = _toml(project / "pyproject.toml")["dependency-groups"]
        assert list(declared) == groups.group_names
        for name in groups.group_names:
            expected = groups.group_requirements(name, full["project_kind"], full["deploy_target"])
            assert declared[name] == json.loads(str(expected)), name


@pytest.mark.parametrize(
    "answers", params(row for row in CONDA_FAMILY if row["dependency_manager"] == "pixi")
)
def test_pixi_manifest(render, answers: Answers) -> None:
    full = complete(answers)
    project = render(full)
    data = _toml(project / "pixi.toml")
    assert data["workspace"]["channels"] == ["conda-forge"]
    conda = data["dependencies"]
    for name, requirement in pyproject_dependencies(project).items():
        spec = requirement.removeprefix(name)
        assert conda.get(name) == spec, f"{name}: pixi.toml vs pyproject"
    package = full["package_name"].replace("_", "-")
    assert data["pypi-dependencies"] == {package: {"path": ".", "editable": True}}
    # One feature per dependency group (with pip, for `pip check`), an environment each.
    groups = include_module("managers")
    features = data["feature"]
    assert list(features) == groups.group_names
    for name in groups.group_names:
        expected = json.loads(
            str(groups.group_requirements(name, full["project_kind"], full["deploy_target"]))
        )
        declared = [
            f"{tool}{spec}"
            for tool, spec in features[name]["dependencies"].items()
            if tool != "pip"
        ]
        assert declared == expected, name
        assert features[name]["dependencies"]["pip"] == "*"
    assert {"test"} <= set(features["test"]["tasks"])
    assert {"lint"} <= set(features["lint"]["tasks"])
    environments = data["environments"]
    assert environments == {
        "default": {"features": groups.group_names, "solve-group": "default"},
        "test": {"features": ["test"], "solve-group": "default"},
        "lint": {"features": ["test", "lint"], "solve-group": "default"},
        "docs": {"features": ["docs"], "solve-group": "default"},
        "prod": {"features": [], "solve-group": "default"},
    }, "one solve group: a package has one version in every environment"
    pixi = include_module("managers").managers["pixi"]
    assert set(pixi["environments"].values()) <= set(environments)


@pytest.mark.parametrize(
    "answers", params(row for row in CONDA_FAMILY if row["dependency_manager"] == "pixi")
)
def test_pixi_manifest_schema(render, answers: Answers) -> None:
    if not PIXI_SCHEMA.is_file():
        pytest.skip(
            f"{OFFLINE_SKIP} the pixi manifest schema is not available here ({PIXI_SCHEMA})"
        )
    project = render(complete(answers))
    run([tool("check-jsonschema"), "--schemafile", str(PIXI_SCHEMA), str(project / "pixi.toml")])


# --- the README gives the commands the install tier runs ---------------------------------


@pytest.mark.parametrize("answers", params(manager_x_python()))
def test_readme_gives_the_tested_commands(render, answers: Answers) -> None:  # type: ignore[no-untyped-def]
    """README's "Getting started" block is the managers table that tests/lockers.py runs."""
    full = complete(answers)
    readme = (render(full) / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Getting started", 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [line for line in block.splitlines() if not line.startswith("#")]
    table = lockers.managers()[full["dependency_manager"]]
    env_name = full["package_name"].replace("_", "-")
    steps = [*table["lock_first"], *table["prepare"], *table["lock"], *table["install"]]
    steps.append(table["test"])
    assert commands == [lockers.fill(step, full["python_version"], env_name) for step in steps]
    if table["family"] == "pypi":
        assert commands[0] == "pyenv install --skip-existing"
