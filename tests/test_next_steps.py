"""Fast tier: the message after copy gives the README's first commands and the deploy set-up.

The message is rendered here from copier.yml with Copier's Jinja settings (a real
`copier copy` prints it in tests/test_prompts.py) and compared with the rendered README,
so the two cannot drift apart.
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING, Any

import jinja2
import pytest
import yaml

from helpers import include_module, params
from matrix import COPIER_YML, ROOT, Answers, complete, manager_x_target, unique

if TYPE_CHECKING:
    from pathlib import Path

NATIVE = [
    complete({"extra_languages": ["cpp"], "dependency_manager": "poetry"}),
    complete({"extra_languages": ["rust"]}),
    complete({"extra_languages": ["r", "node"], "project_kind": "pipeline"}),
]
RENDERS = params(unique(manager_x_target() + NATIVE))


@cache
def message_template() -> jinja2.Template:
    config = yaml.safe_load(COPIER_YML.read_text(encoding="utf-8"))
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(ROOT)),
        extensions=["jinja2_ansible_filters.AnsibleCoreFiltersExtension"],
        **config["_envops"],
    )
    return env.from_string(config["_message_after_copy"])


def message(answers: Answers, destination: str = "../my-project") -> str:
    return message_template().render(**answers, _copier_conf={"dst_path": destination})


def readme_first_commands(project: Path) -> list[str]:
    """The README's "From a fresh clone to green tests" block, without comments."""
    readme = (project / "README.md").read_text(encoding="utf-8")
    block = re.search(r"From a fresh clone to green tests:\n\n```bash\n(.*?)```", readme, re.DOTALL)
    assert block, "README has no first-commands block"
    lines = [line.split("  # ")[0] for line in block.group(1).splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def message_commands(text: str) -> list[str]:
    """The indented commands between `git init ...` and the lockfile commit."""
    lines = [line.strip() for line in text.splitlines() if line.startswith("  ")]
    start = next(i for i, line in enumerate(lines) if line.startswith("git init"))
    end = next(i for i, line in enumerate(lines) if line.startswith("git add "))
    return lines[start + 1 : end]


@pytest.mark.parametrize("answers", RENDERS)
def test_message_gives_the_readme_commands(render: Any, answers: Answers) -> None:
    full = complete(answers)
    text = message(full)
    assert message_commands(text) == readme_first_commands(render(full))
    manager = include_module("managers").managers[full["dependency_manager"]]
    assert f"  git add {' '.join(manager['lockfiles'])} && git commit" in text
    assert "  cd ../my-project\n" in text
    assert "{{" not in text
    assert "{%" not in text
    assert "\n\n\n" not in text


@pytest.mark.parametrize("answers", RENDERS)
def test_message_points_to_the_deploy_set_up(render: Any, answers: Answers) -> None:
    full = complete(answers)
    text = message(full)
    target = full["deploy_target"]
    if target == "none":
        assert "Deploy target" not in text
        return
    entry = include_module("deploy/targets").targets[target]
    assert f"Deploy target: {entry['label']}." in text
    staging, production = entry["environments"]
    assert f"environments `{staging}` and `{production}`" in text
    variables = entry["variables"] + entry["by_kind"].get(full["project_kind"], [])
    if variables:
        assert f"{len(variables)} variables" in text
    assert 'README.md, section "CI and deployment"' in text
    readme = (render(full) / "README.md").read_text(encoding="utf-8")
    assert "\n## CI and deployment\n" in readme
    assert "One-time set-up on the other side" in readme
    for name, _, _ in variables:
        assert f"`{name}`" in readme
