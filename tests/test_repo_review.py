"""Fast tier: rendered repositories score well on Scientific Python's repo-review.

Every check must pass except the few below, each with the reason it does not apply.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import TYPE_CHECKING

import pytest

from helpers import params, run, tool
from matrix import choices, complete

if TYPE_CHECKING:
    from pathlib import Path

    from matrix import Answers

NOT_APPLICABLE = {
    # The manager's own runner (uv run, poetry run, pdm scripts, pixi tasks...) is the
    # task runner; a noxfile would build a second set of environments beside it.
    "PY007": "manager is the task runner",
    # mypy runs as a local hook from the project environment, so it sees the project's
    # dependencies; the mirrors-mypy hook would type-check without them.
    "PC140": "mypy is a local hook",
    # reStructuredText is not used in generated repos.
    "PC170": "no rST",
    # Markdown formatting is left to the team's editor.
    "PC180": "no markdown formatter imposed",
    # pre-commit.ci service settings: the generated CI runs the hooks itself.
    "PC901": "no pre-commit.ci",
    "PC902": "no pre-commit.ci",
    "PC903": "no pre-commit.ci",
}

# PP006 wants a PEP 735 `dev` group; these managers keep dev tools in their own file.
DEV_TOOLS_ELSEWHERE = {
    "pipenv": "Pipfile [dev-packages]",
    "pip": "requirements-dev.in, compiled with hashes (pip-tools cannot read PEP 735 groups)",
    "conda": "environment.yml (conda packages)",
    "pixi": "pixi.toml's dev feature",
}

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


def failures(project: Path) -> dict[str, str]:
    # repo-review exits non-zero when a check fails; the JSON report says which.
    result = subprocess.run(
        [tool("repo-review"), "--format", "json", str(project)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout, result.stderr
    checks = json.loads(result.stdout)["checks"]
    return {
        name: f"{check['description']}: {check.get('err_msg', '')[:200]}"
        for name, check in checks.items()
        if check["result"] is False
    }


@pytest.mark.parametrize("answers", RENDERS)
def test_repo_review_passes(render, tmp_path: Path, answers: Answers) -> None:
    project = tmp_path / "repo"
    shutil.copytree(render(answers), project)
    run(["git", "init", "-q"], cwd=project)
    allowed = set(NOT_APPLICABLE)
    if answers["dependency_manager"] in DEV_TOOLS_ELSEWHERE:
        allowed.add("PP006")
    failed = {name: why for name, why in failures(project).items() if name not in allowed}
    assert failed == {}


@pytest.mark.parametrize("answers", RENDERS)
def test_pre_commit_config_is_valid(render, answers: Answers) -> None:
    config = render(answers) / ".pre-commit-config.yaml"
    run([tool("pre-commit"), "validate-config", str(config)])
