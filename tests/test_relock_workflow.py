"""Install tier: the `run:` steps of .github/workflows/relock.yml, run for real with PDM.

The workflow cannot run on GitHub from here, so its two jobs are replayed locally, step
by step, with bash, in fresh clones of a local bare `origin`: a PDM project whose lock
is a week old (pytest held back, then the hold lifted with `pdm lock --update-reuse`, so
the lock matches pyproject.toml but is not the newest). The relock job creates the
environment, relocks with PDM's own command, runs the tests against the new lock and
hands the change on as a patch in RUNNER_TEMP (the artifact actions are GitHub's); the
pull-request job pushes the branch and opens the pull request. "Set up" steps are
skipped: pdm and nox are the test environment's. `gh` is a stand-in that records its
arguments. conda-lock and pixi cannot solve here: their relock steps are checked
statically (test_workflows.py: actionlint, zizmor; test_groups.py: what they install).

The audit workflow's step for PDM runs here too: its export of every locked group, with
hashes, is real; pip-audit's advisory lookups need PyPI's JSON API or OSV, which this
machine does not reach, so that part skips with an `offline:` reason.
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
from matrix import complete

pytestmark = pytest.mark.install

PYTHON = "3.11"
GH_STAND_IN = """#!/bin/bash
printf '%s\\n' "$*" >> "$GH_LOG"
case "$1 $2" in
  "pr list") cat "$GH_STATE" 2>/dev/null || true ;;
  "pr create") echo 7 > "$GH_STATE" ;;
esac
"""


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True,
        env={**os.environ, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1",
             "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
             "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"},
    ).stdout  # fmt: skip


def locked_version(lock: str, name: str) -> str:
    match = re.search(rf'^name = "{name}"\nversion = "([^"]+)"', lock, re.MULTILINE)
    assert match, name
    return match.group(1)


def run_job(
    workflow: dict[str, Any], job: str, cwd: Path, env: dict[str, str], temp: Path
) -> dict[str, str]:
    """The job's `run:` steps in order, but "Set up" ones; fails the test at a failing step."""
    output = temp / f"output-{job}"
    output.write_text("", encoding="utf-8")
    expressions = {"GH_TOKEN": "token-for-the-test", "BASE": "main"}
    for step in workflow["jobs"][job]["steps"]:
        if "run" not in step or step["name"].startswith("Set up "):
            continue
        step_env = {
            key: expressions[key] if "${{" in str(value) else str(value)
            for key, value in step.get("env", {}).items()
        }
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=cwd, capture_output=True, text=True, check=False, timeout=1800,
            env={**env, **step_env, "GITHUB_OUTPUT": str(output), "RUNNER_TEMP": str(temp)},
        )  # fmt: skip
        assert result.returncode == 0, (step["name"], result.stdout[-3000:], result.stderr[-3000:])
    return dict(line.split("=", 1) for line in output.read_text("utf-8").splitlines())


def test_pdm_relock_workflow_steps(render_copy, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    project = render_copy(complete({"dependency_manager": "pdm", "python_version": PYTHON}))
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text("utf-8")
    assert '"pytest>=8.3",' in text
    pyproject.write_text(text.replace('"pytest>=8.3",', '"pytest>=8.3,<8.4",'), "utf-8")
    lockers.lock(project, "pdm", PYTHON)
    held = locked_version((project / "pdm.lock").read_text("utf-8"), "pytest")
    assert held.startswith("8.3."), held
    pyproject.write_text(
        pyproject.read_text("utf-8").replace('"pytest>=8.3,<8.4",', '"pytest>=8.3",'), "utf-8"
    )
    lockers.shell("pdm lock --update-reuse", project, PYTHON)
    assert locked_version((project / "pdm.lock").read_text("utf-8"), "pytest") == held
    for leftover in (".venv", ".pdm-python"):
        subprocess.run(["rm", "-rf", str(project / leftover)], check=True)
    git(project, "init", "--quiet", "--initial-branch", "main")
    git(project, "add", "-A")
    git(project, "commit", "--quiet", "-m", "start")
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "--quiet", "--bare", str(project), str(origin))
    workflow = yaml.safe_load((project / ".github/workflows/relock.yml").read_text("utf-8"))

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "gh").write_text(GH_STAND_IN, encoding="utf-8")
    (bin_dir / "gh").chmod(0o755)
    base = lockers.manager_env(PYTHON)
    env = {
        **base,
        "PATH": os.pathsep.join([str(bin_dir), base["PATH"]]),
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GH_LOG": str(tmp_path / "gh.log"),
        "GH_STATE": str(tmp_path / "gh.state"),
    }
    temp = tmp_path / "runner-temp"
    temp.mkdir()

    relock = tmp_path / "relock"
    git(tmp_path, "clone", "--quiet", str(origin), str(relock))
    outputs = run_job(workflow, "relock", relock, env, temp)
    assert outputs == {"changed": "true"}
    patch = (temp / "relock" / "relock.patch").read_text("utf-8")
    assert "pdm.lock" in patch
    assert "pyproject.toml" not in patch
    assert (temp / "relock" / "title.txt").read_text("utf-8").strip() == "Relock pdm.lock"

    pull_request = tmp_path / "pull-request"
    git(tmp_path, "clone", "--quiet", str(origin), str(pull_request))
    run_job(workflow, "pull-request", pull_request, env, temp)
    calls = (tmp_path / "gh.log").read_text("utf-8").splitlines()
    assert any(call.startswith("pr create --base main --head relock") for call in calls), calls
    proposed = git(origin, "show", "relock:pdm.lock")
    newer = locked_version(proposed, "pytest")
    assert not newer.startswith("8.3."), f"pytest stayed at {newer}"
    assert git(origin, "diff", "--name-only", "main", "relock").split() == ["pdm.lock"]


def test_pdm_audit_step(render_copy) -> None:  # type: ignore[no-untyped-def]
    project = render_copy(complete({"dependency_manager": "pdm", "python_version": PYTHON}))
    lockers.lock(project, "pdm", PYTHON)
    workflow = yaml.safe_load((project / ".github/workflows/audit.yml").read_text("utf-8"))
    step = next(s for s in workflow["jobs"]["audit"]["steps"] if "pip-audit " in s.get("run", ""))
    export, audit = step["run"].strip().splitlines()
    temp = project.parent / "runner-temp"
    temp.mkdir()
    env = {**lockers.manager_env(PYTHON), "RUNNER_TEMP": str(temp)}
    subprocess.run(["bash", "-eo", "pipefail", "-c", export], cwd=project, env=env, check=True)
    locked = (temp / "locked.txt").read_text("utf-8")
    requirements = [line for line in locked.splitlines() if re.match(r"[A-Za-z0-9]", line)]
    names = {re.split(r"[=\s]", line, maxsplit=1)[0].lower() for line in requirements}
    assert {"pytest", "ruff", "mypy", "zensical"} <= names, "every group is audited"
    assert all("==" in line for line in requirements), "pinned as locked"
    assert locked.count("--hash=sha256:") >= len(requirements), "with hashes"
    result = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", audit],
        cwd=project, env=env, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    if "could not be audited" in result.stderr:
        pytest.skip(
            "offline: pip-audit's advisory lookups (PyPI's JSON API, OSV) are not served "
            "here; the export it reads was checked"
        )
    assert result.returncode == 0, result.stdout + result.stderr
