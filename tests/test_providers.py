"""Fast tier: one provider per package (`nox -s providers`, includes/providers.py.jinja).

For the managers whose environment mixes conda and PyPI packages (conda, conda + Poetry,
pixi), the rendered noxfile's `providers` task passes on the render as it is and fails,
with one line naming the package and both files, once a package is declared on both
sides. nox itself runs the task here: it only reads the manifests, so it needs no conda.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from helpers import include_module, params, tool
from matrix import Answers, complete

MANAGERS = include_module("tasks").code_tasks["providers"]["managers"]


def providers(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("nox"), "-s", "providers", "--no-color"],
        cwd=project, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def declare_twice(project: Path, manager: str) -> str:
    """Declare fastapi (a service dependency) on the other side too; returns the name."""
    if manager == "conda":
        # conda owns the dependencies: a `pip:` list that repeats one of them.
        path = project / "environment-test.yml"
        path.write_text(
            path.read_text("utf-8") + "  - pip:\n      - FastAPI>=0.115  # again, from PyPI\n",
            "utf-8",
        )
    elif manager == "conda-poetry":
        # Poetry owns the Python packages (pyproject.toml): fastapi from conda-forge too.
        path = project / "environment.yml"
        path.write_text(path.read_text("utf-8") + "  - conda-forge::fastapi>=0.115\n", "utf-8")
    else:
        path = project / "pixi.toml"
        text = path.read_text("utf-8")
        path.write_text(
            text.replace("[pypi-dependencies]\n", '[pypi-dependencies]\nfastapi = ">=0.115"\n'),
            "utf-8",
        )
    return "fastapi"


@pytest.mark.parametrize(
    "answers",
    params(complete({"dependency_manager": m, "project_kind": "service"}) for m in MANAGERS),
)
def test_providers_task_names_a_package_on_both_sides(render_copy, answers: Answers) -> None:
    manager = answers["dependency_manager"]
    project = render_copy(answers)
    passed = providers(project)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "none on both sides" in passed.stderr, passed.stderr

    name = declare_twice(project, manager)
    failed = providers(project)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    lines = [line for line in failed.stderr.splitlines() if "declared on both" in line]
    assert len(lines) == 1, failed.stderr
    assert f"{name} is declared on both the conda side" in lines[0], lines[0]
    assert "keep it on one side" in lines[0], lines[0]
