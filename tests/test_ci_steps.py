"""Install tier: the first push goes green.

For each PyPI manager: render, do what README.md says before the first push (create and
commit the lockfile), clone that commit as CI would check it out, then run the `run:`
steps of ci.yml's lint and test jobs there, in order, with bash as GitHub runs them (they
call noxfile.py's tasks: install, lint, typecheck, docs, test); then the README's other
everyday tasks (format, lock) in the same checkout.
Steps named "Set up ..." only provide tools; their local equivalents are the pyenv
interpreter first on PATH and the manager from the test environment (tests/lockers.py).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

import lockers
from helpers import params, run
from lockers import PYPI_MANAGERS, lock, manager_env, manager_tool
from matrix import complete

pytestmark = pytest.mark.install

PYTHON = "3.13"
ROWS = [
    complete({"dependency_manager": manager, "project_kind": "service", "python_version": PYTHON})
    for manager in PYPI_MANAGERS
]
GIT = [
    "git",
    "-c",
    "user.name=CI Test",
    "-c",
    "user.email=ci@example.com",
    "-c",
    "init.defaultBranch=main",
    "-c",
    "commit.gpgsign=false",
]


def ci_steps(project: Path, job: str) -> list[dict[str, Any]]:
    workflow = yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text())
    return list(workflow["jobs"][job]["steps"])


def run_step(step: dict[str, Any], project: Path) -> None:
    script = step["run"]
    assert "${{" not in script, f"{step.get('name')}: a GitHub expression in a run: script"
    # The one expression CI passes to a step: the test matrix's Python (run here: PYTHON).
    step_env = {
        k: str(v).replace("${{ matrix.python-version }}", PYTHON)
        for k, v in step.get("env", {}).items()
    }
    assert "${{" not in str(step_env), step_env
    # GitHub's default for bash steps: bash --noprofile --norc -eo pipefail {0}
    run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=project,
        env=step_env,
        base_env=manager_env(PYTHON),
        timeout=1200,
    )


@pytest.mark.parametrize("answers", params(ROWS))
def test_first_push_goes_green(render_copy, answers: dict[str, Any], tmp_path: Path) -> None:
    manager = answers["dependency_manager"]
    project = render_copy(answers)
    # README: create the lockfile, then commit everything (git init is in the message
    # Copier prints after rendering).
    lock(project, manager, PYTHON)
    subprocess.run([*GIT, "init", "-q"], cwd=project, check=True)
    subprocess.run([*GIT, "add", "-A"], cwd=project, check=True)
    subprocess.run([*GIT, "commit", "-q", "-m", "Start from groundwork"], cwd=project, check=True)
    # CI checks out the commit: a fresh clone has only what was committed.
    checkout = tmp_path / "checkout"
    subprocess.run([*GIT, "clone", "-q", str(project), str(checkout)], check=True)
    if manager != "pip":
        manager_tool(manager)  # the local stand-in for the "Set up <manager>" step
    ran = []
    ran_scripts = []
    for job in ("lint", "test"):
        for step in ci_steps(checkout, job):
            if "run" not in step or str(step.get("name", "")).startswith("Set up "):
                continue
            run_step(step, checkout)
            ran.append(f"{job}: {step['name']}")
            ran_scripts.append(step["run"])
    assert any(re.match(r"test: Test", name) for name in ran), ran
    assert any(name.startswith("lint: Lint") for name in ran), ran
    # nothing the steps did may dirty tracked files (e.g. a lockfile rewritten by install)
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=checkout,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ},
    )
    assert status.stdout == "", f"CI steps changed tracked files:\n{status.stdout}"

    # README's everyday commands: the tasks CI did not run, the same way (image: the docker
    # tier; infra, whose tools come through pipx: tests/test_infra_task.py).
    everyday = lockers.everyday_commands(checkout)
    called = {name for step in ran_scripts for name in re.findall(r"nox -s ([\w ]+)", step)}
    tasks_run = {task for names in called for task in names.split()}
    elsewhere = {"image", "infra"}
    for command in everyday:
        task = command.removeprefix("nox -s ")
        if task in tasks_run or task in elsewhere:
            continue
        run(["bash", "-c", command], cwd=checkout, base_env=manager_env(PYTHON), timeout=1200)
        tasks_run.add(task)
    listed = {c.removeprefix("nox -s ") for c in everyday}
    assert tasks_run | (elsewhere & listed) == listed
    # formatting already formatted code and re-locking change no other tracked file
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=checkout, capture_output=True, text=True, check=True,
    )  # fmt: skip
    lockfiles = set(lockers.managers()[manager]["lockfiles"])
    changed = {line[3:] for line in status.stdout.splitlines()} - lockfiles
    assert changed == set(), f"README's tasks changed tracked files: {changed}"
