"""Fast tier: dependency groups by purpose, for every manager, and what each install takes.

The development tools are in three groups (includes/managers.jinja, `groups`): test, lint
and docs. Each manager declares them in its own form (PEP 735 groups, Pipfile
categories, requirements-<group>.in, environment-<group>.yml, pixi features; the conda
family's files are checked in test_pins.py), every task installs only the set it uses
(`sets`), and each CI job only what its tasks use. No rendered file carries a limit of
this test machine (tests/lockers.py, TEST_MACHINE_LIMITS). The install tier proves the
groups with real installs (test_managers.py, test_ci_steps.py).
"""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement

import lockers
from helpers import include_module, params
from matrix import ROOT, Answers, all_static_renders, choices, complete, manager_x_kind

SETS = ["project", "project+test", "lint", "project+test+lint", "docs", "all"]
PEP735 = ["uv", "poetry", "pdm", "conda-poetry"]


def managers() -> dict[str, dict[str, Any]]:
    return dict(include_module("managers").managers)


def group_requirements(full: Answers, name: str) -> list[str]:
    module = include_module("managers")
    return list(
        json.loads(
            str(module.group_requirements(name, full["project_kind"], full["deploy_target"]))
        )
    )


def test_groups_are_by_purpose() -> None:
    module = include_module("managers")
    assert module.group_names == ["test", "lint", "docs"]
    assert set(module.groups) == set(module.group_names)
    names = {
        name: {Requirement(r).name for r in group["all"]} for name, group in module.groups.items()
    }
    assert {"pytest"} <= names["test"]
    assert {"ruff", "mypy"} <= names["lint"]
    assert {"zensical", "mkdocstrings-python"} <= names["docs"]
    assert not (names["test"] & names["lint"])
    assert not (names["lint"] & names["docs"])


@pytest.mark.parametrize("manager", choices("dependency_manager"))
def test_every_manager_says_what_each_set_installs(manager: str) -> None:
    """Each set of every manager, and pixi's environment of each; the tasks use sets only."""
    m = managers()[manager]
    assert list(m["sets"]) == SETS
    assert all(isinstance(commands, list) for commands in m["sets"].values())
    assert m["check"], "an install is checked"
    if manager == "pixi":
        assert set(m["environments"]) == set(SETS)
        assert all(
            f"--environment {m['environments'][name]}" in m["sets"][name][0] for name in SETS
        )
    else:
        assert m["environments"] == {}
        assert "{tools}" not in json.dumps(m)
    tasks = include_module("tasks").env_tasks
    assert {task.get("installs", "project") for task in tasks.values()} <= set(SETS)
    sets_of = include_module("ci").set_groups
    assert list(sets_of) == SETS


@pytest.mark.parametrize(
    "answers",
    params(
        row for row in manager_x_kind() if row["dependency_manager"] in [*PEP735, "pipenv", "pip"]
    ),
)
def test_pypi_side_declares_the_groups(render, answers: Answers) -> None:
    """The groups in each PyPI manager's own form, with the table's requirements."""
    full = complete(answers)
    project = render(full)
    manager = full["dependency_manager"]
    names = include_module("managers").group_names
    if manager in PEP735:
        declared = tomllib.loads((project / "pyproject.toml").read_text("utf-8"))[
            "dependency-groups"
        ]
        assert list(declared) == names, "no `dev` group gathers them: tasks install by purpose"
        for name in names:
            assert declared[name] == group_requirements(full, name), name
    elif manager == "pipenv":
        pipfile = tomllib.loads((project / "Pipfile").read_text("utf-8"))
        assert "dev-packages" not in pipfile
        for name in names:
            declared = [f"{tool}{spec}" for tool, spec in pipfile[name].items()]
            assert declared == group_requirements(full, name), name
    else:
        assert not (project / "requirements-dev.in").exists()
        for position, name in enumerate(names):
            lines = [
                line
                for line in (project / f"requirements-{name}.in").read_text("utf-8").splitlines()
                if line and not line.startswith("#")
            ]
            constraints = ["-c requirements.txt"] + [
                f"-c requirements-{other}.txt" for other in names[:position]
            ]
            assert lines == constraints + group_requirements(full, name), name


# --- CI installs only what its jobs run ------------------------------------------------


def job_steps(path: Path, job: str) -> list[dict[str, Any]]:
    return list(yaml.safe_load(path.read_text("utf-8"))["jobs"][job]["steps"])


@pytest.mark.parametrize(
    "answers", params(complete({"dependency_manager": m}) for m in choices("dependency_manager"))
)
def test_ci_jobs_install_what_their_tasks_use(render, answers: Answers) -> None:
    """No job installs everything: each task installs its set, and the conda family's setup
    action creates only the categories (conda) or environments (pixi) of the job's tasks."""
    full = complete(answers)
    project = render(full)
    manager = full["dependency_manager"]
    workflows = project / ".github" / "workflows"
    tasks = include_module("tasks").env_tasks
    jobs = {
        ("ci.yml", "lint"): ["lint", "typecheck", "docs"],
        ("ci.yml", "test"): ["test"],
        ("docs.yml", "build"): ["docs"],
    }
    group_order = include_module("managers").group_names
    for (name, job), job_tasks in jobs.items():
        steps = job_steps(workflows / name, job)
        ran = [
            name
            for step in steps
            if (match := re.fullmatch(r"nox -s ([\w ]+)", str(step.get("run", ""))))
            for name in match.group(1).split()
        ]
        assert "install" not in ran, (name, job)
        assert set(ran) <= {*job_tasks, "prepare", "providers"}, (name, job, ran)
        sets = {tasks[task]["installs"] for task in job_tasks}
        actions = [
            step
            for step in steps
            if "with" in step and ("micromamba" in step["uses"] or "pixi" in step["uses"])
        ]
        if manager == "conda":
            groups = {group for s in sets for group in include_module("ci").set_groups[s]}
            categories = re.findall(r"--category (\w+)", actions[0]["with"]["create-args"])
            assert categories == ["main", *(g for g in group_order if g in groups)], (name, job)
        elif manager == "pixi":
            environments = {managers()["pixi"]["environments"][s] for s in sets}
            assert set(actions[0]["with"]["environments"].split()) == environments, (name, job)
        elif manager == "conda-poetry":
            assert "create-args" not in actions[0]["with"], "the conda side is one category"


# --- no limit of the test machine in rendered files (issue of the docs: "no rendered file
# pins a tool below its current release for our machine's sake") ----------------------

# Upper bounds a rendered file may carry, each for a reason that holds for every user.
ALLOWED_CAPS = {
    "uv-build": "uv's build backend before 1.0: its next minor may change what it builds",
    "poetry-core": "the next major of Poetry's build backend",
    "maturin": "the next major of the Rust extension's build backend",
}


def rendered_requirements(project: Path) -> list[tuple[str, str]]:
    """(file, requirement) for every requirement a render's files declare."""
    found: list[tuple[str, str]] = []
    pyproject = tomllib.loads((project / "pyproject.toml").read_text("utf-8"))
    found += [("pyproject.toml", r) for r in pyproject["build-system"]["requires"]]
    found += [("pyproject.toml", r) for r in pyproject["project"].get("dependencies", [])]
    for group in pyproject.get("dependency-groups", {}).values():
        found += [("pyproject.toml", r) for r in group if isinstance(r, str)]
    for table in pyproject.get("tool", {}).get("pdm", {}).get("resolution", {}).values():
        found += [("pyproject.toml", f"{name}{spec}") for name, spec in table.items()]
    if (project / "Pipfile").exists():
        pipfile = tomllib.loads((project / "Pipfile").read_text("utf-8"))
        for category, table in pipfile.items():
            if category not in {"source", "requires"}:
                found += [
                    ("Pipfile", f"{n}{s}")
                    for n, s in table.items()
                    if isinstance(s, str) and s != "*"
                ]
    for path in project.glob("requirements-*.in"):
        lines = path.read_text("utf-8").splitlines()
        found += [(path.name, line) for line in lines if line and not line.startswith(("#", "-"))]
    for path in project.glob("environment*.yml"):
        data = yaml.safe_load(path.read_text("utf-8"))
        specs = [
            d for d in data["dependencies"] if isinstance(d, str) and not d.startswith("python=")
        ]
        found += [(path.name, re.sub(r"^([\w.-]+)=(?![=<>])", r"\1==", d)) for d in specs]
    if (project / "pixi.toml").exists():
        pixi = tomllib.loads((project / "pixi.toml").read_text("utf-8"))
        tables = [pixi.get("dependencies", {})] + [
            f.get("dependencies", {}) for f in pixi.get("feature", {}).values()
        ]
        for table in tables:
            found += [
                ("pixi.toml", f"{n}{s}")
                for n, s in table.items()
                if n != "python" and isinstance(s, str) and s != "*"
            ]
    return found


def test_machine_pins(project: Path) -> list[str]:
    """Upper bounds in a render that only a test machine's limit would explain."""
    problems = []
    limits = set(lockers.TEST_MACHINE_LIMITS)
    for where, text in rendered_requirements(project):
        requirement = Requirement(text.replace(" ", ""))
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        caps = [
            spec
            for spec in requirement.specifier
            if spec.operator in {"<", "<=", "==", "===", "~="}
        ]
        if name in limits and caps:
            problems.append(
                f"{where}: {text} (a limit of the test machine: {lockers.TEST_MACHINE_LIMITS[name]})"
            )
        elif caps and name not in ALLOWED_CAPS:
            problems.append(f"{where}: {text} (an upper bound without a reason in ALLOWED_CAPS)")
    for text in lockers.TEST_ONLY.values():
        for line in filter(None, (line.strip() for line in text.splitlines())):
            if not line.startswith("#") and "=" in line:
                for path in project.rglob("*.toml"):
                    assert line not in path.read_text("utf-8"), (
                        f"{path.name}: test-only setting {line}"
                    )
    return problems


test_machine_pins.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


@pytest.mark.parametrize("answers", params(all_static_renders()))
def test_no_test_machine_limit_in_a_render(render, answers: Answers) -> None:
    assert test_machine_pins(render(complete(answers))) == []


def test_a_test_machine_limit_is_found(render, tmp_path: Path) -> None:
    """The check above fails on a render that pins zensical below its current release."""
    project = shutil.copytree(render(complete({})), tmp_path / "p")
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text("utf-8")
    assert '"zensical>=0.0.73",' in text
    pyproject.write_text(text.replace('"zensical>=0.0.73",', '"zensical>=0.0.73,<0.1",'), "utf-8")
    problems = test_machine_pins(project)
    assert len(problems) == 1, problems
    assert "zensical>=0.0.73,<0.1" in problems[0], problems


# --- tools the tasks and workflows pin: the versions these tests run ----------------------


def test_infra_task_pins_the_tested_tools() -> None:
    """`nox -s infra` runs the cfn-lint and checkov that tests/aws_stack.py judges with."""
    commands = " ".join(include_module("tasks").tool_tasks["infra"]["commands"])
    pins = dict(re.findall(r"--spec ([\w-]+)==([\w.]+)", commands))
    checkov = re.search(
        r"^checkov==([\w.]+)",
        (ROOT / "requirements" / "checkov.txt").read_text("utf-8"),
        re.MULTILINE,
    )
    assert checkov is not None
    assert pins == {"cfn-lint": metadata.version("cfn-lint"), "checkov": checkov.group(1)}


def test_workflow_tools_are_the_tested_ones() -> None:
    tools = include_module("ci").ci_tools
    assert tools["audit"] == f"pip-audit=={metadata.version('pip-audit')}"
    docker = include_module("docker").docker_managers["poetry"]["tool"]
    assert tools["export"] in docker, "the audit exports with the Docker build's plugin"
    assert re.fullmatch(r"conda-lock==\d+\.\d+\.\d+", tools["conda_lock"])
