"""Fast tier: the template's own tools are locked, and the locks follow pyproject.toml.

requirements/<group>.txt is made from pyproject.toml's group of that name by
requirements/lock.py (`dev`: the test command's tools; `checkov`: installed apart by
tests/aws_judges.py). A lock is stale when what it was made from changed since (its recorded
digest differs), and wrong when a pin falls outside the group's ranges (e.g. edited by hand). The README's
test command installs it with hashes required, and .ci/run runs that command as written.
"""

from __future__ import annotations

import importlib.util
import re
import tomllib
from functools import cache
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from helpers import run, tool
from matrix import ROOT

LOCK = ROOT / "requirements" / "dev.txt"
REGENERATE = "run `.venv/bin/python requirements/lock.py` and commit requirements/"
GROUPS = ["dev", "checkov"]


@cache
def lock_module() -> Any:
    spec = importlib.util.spec_from_file_location("lock", ROOT / "requirements" / "lock.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pins(group: str) -> list[tuple[Requirement, list[str]]]:
    """Each requirement of a group's lock with its hashes."""
    found: list[tuple[Requirement, list[str]]] = []
    text = lock_module().lock_file(group).read_text(encoding="utf-8")
    for block in re.split(r"\n(?=\S)", text):
        if block.startswith("#") or not block.strip():
            continue
        first, *rest = block.split("\\\n")
        hashes = re.findall(r"--hash=(sha256:[0-9a-f]{64})", "".join(rest))
        found.append((Requirement(first.strip()), hashes))
    return found


def test_lock_covers_every_group() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert sorted(project["dependency-groups"]) == sorted(lock_module().GROUPS) == sorted(GROUPS)


@pytest.mark.parametrize("group", GROUPS)
def test_lock_is_up_to_date(group: str) -> None:
    path = lock_module().lock_file(group)
    recorded = lock_module().recorded_digest(path.read_text(encoding="utf-8"))
    assert recorded is not None, f"{path.name} has no digest line: {REGENERATE}"
    assert recorded == lock_module().digest(group), f"the {group} group changed: {REGENERATE}"


@pytest.mark.parametrize("group", GROUPS)
def test_lock_pins_every_tool_within_its_range_with_hashes(group: str) -> None:
    locked = pins(group)
    assert len(locked) > 50, "the tools and their dependencies"
    by_name: dict[str, list[Requirement]] = {}
    for requirement, hashes in locked:
        specifiers = list(requirement.specifier)
        assert len(specifiers) == 1, requirement
        assert specifiers[0].operator == "==", requirement
        assert hashes, f"{requirement.name} has no hash"
        by_name.setdefault(canonicalize_name(requirement.name), []).append(requirement)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    for line in project["dependency-groups"][group]:
        wanted = Requirement(line)
        candidates = by_name.get(canonicalize_name(wanted.name), [])
        assert candidates, f"{wanted.name} is not in the lock: {REGENERATE}"
        for pinned in candidates:
            version = next(iter(pinned.specifier)).version
            assert wanted.specifier.contains(version, prereleases=True), (
                f"{pinned} is outside {wanted}: {REGENERATE}"
            )
            assert wanted.extras <= pinned.extras, f"{pinned} lacks the extras of {wanted}"


def readme_test_command() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = [
        line.strip()
        for line in re.findall(r"```bash\n(.*?)```", readme, re.DOTALL)
        if "pytest" in line
    ]
    assert len(commands) == 1, commands
    return commands[0]


def test_readme_installs_the_lock_and_ci_runs_the_readme() -> None:
    command = readme_test_command()
    assert "pip install -q --require-hashes -r requirements/dev.txt" in command, command
    assert "--group" not in command, "the unpinned ranges stay out of the test command"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert command in ci.splitlines(), ".ci/run runs the README's test command as written"


def test_dependabot_proposes_lock_updates() -> None:
    config = ROOT / ".github" / "dependabot.yml"
    run([tool("check-jsonschema"), "--builtin-schema", "vendor.dependabot", str(config)])
    updates = yaml.safe_load(config.read_text(encoding="utf-8"))["updates"]
    pip = [update for update in updates if update["package-ecosystem"] == "pip"]
    assert [update["directory"] for update in pip] == ["/requirements"], updates
    assert LOCK.parent.name == "requirements"
    # jactionlint knows Dependabot's options too (cooldown, groups): zero findings.
    run([tool("jactionlint"), "--no-online", str(config.relative_to(ROOT))], cwd=ROOT)
