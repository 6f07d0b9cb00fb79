"""Fast tier: rendered repositories pass Scientific Python's repo-review.

No check fails. The few that do not fit a rendered repository are skipped by the render's
own pyproject.toml (`[tool.repo-review.ignore]`), each with the reason a user reads in
repo-review's report; docs/design.md explains them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tomllib
from typing import TYPE_CHECKING

import pytest

from helpers import params, run, tool
from matrix import choices, complete

if TYPE_CHECKING:
    from pathlib import Path

    from matrix import Answers

# Checks a rendered repository skips, each with its reason in its own pyproject.toml
# ([tool.repo-review.ignore]), so that repo-review shows them as skipped, not failed.
# PP006 wants a PEP 735 `dev` group: the tools are in groups by purpose (PEP 735 groups,
# or the manager's own form), each installed by the task that uses it.
SKIPPED = {"PC140", "PC170", "PC180", "PP006"}

RENDERS = params(
    complete(
        {
            "dependency_manager": manager,
            "project_kind": "service" if i % 2 else "library",
            "deploy_target": "ghcr",
        }
    )
    for i, manager in enumerate(choices("dependency_manager"))
)


def review(project: Path) -> dict[str, dict[str, object]]:
    # repo-review exits non-zero when a check fails; the JSON report says which.
    result = subprocess.run(
        [tool("repo-review"), "--format", "json", str(project)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout, result.stderr
    checks: dict[str, dict[str, object]] = json.loads(result.stdout)["checks"]
    return checks


@pytest.mark.parametrize("answers", RENDERS)
def test_repo_review_passes(render, tmp_path: Path, answers: Answers) -> None:
    """No check fails; the skipped ones are exactly those the render gives a reason for."""
    project = tmp_path / "repo"
    shutil.copytree(render(answers), project)
    run(["git", "init", "-q"], cwd=project)
    checks = review(project)
    failed = {
        name: f"{check['description']}: {str(check.get('err_msg', ''))[:300]}"
        for name, check in checks.items()
        if check["result"] is False
    }
    assert failed == {}
    assert "PY007" in checks, "the task-runner check ran"
    assert checks["PY007"]["result"] is True
    assert {name for name in checks if name.startswith("NOX")}, "the noxfile was reviewed"
    expected = SKIPPED
    reasons = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "repo-review"
    ]["ignore"]
    assert set(reasons) == expected
    for name in expected:
        assert checks[name]["result"] is None, name
        assert checks[name]["skip_reason"] == reasons[name], name
        assert len(str(reasons[name])) > 40, f"{name}: say why"


@pytest.mark.parametrize("answers", RENDERS)
def test_pre_commit_config_is_valid(render, answers: Answers) -> None:
    config = render(answers) / ".pre-commit-config.yaml"
    run([tool("pre-commit"), "validate-config", str(config)])
