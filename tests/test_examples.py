"""Fast tier: examples/ holds fresh renders of the template (golden examples).

When a template change makes them stale, regenerate them and commit the result with the
change: `.venv/bin/python examples/regenerate.py`.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest

from matrix import ROOT, choices, complete, is_valid


@cache
def regenerate() -> ModuleType:
    spec = importlib.util.spec_from_file_location("regenerate", ROOT / "examples" / "regenerate.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["regenerate"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every example, rendered now from the working tree."""
    target = tmp_path_factory.mktemp("examples") / "examples"
    regenerate().render_all(target)
    return target


def test_examples_are_fresh(rendered: Path) -> None:
    stale = regenerate().stale(rendered)
    assert stale == [], (
        f"examples/ is stale ({len(stale)} files, e.g. {stale[:5]}): "
        "run `.venv/bin/python examples/regenerate.py` and commit the result"
    )


def test_examples_cover_every_choice() -> None:
    rows = [complete(answers) for answers in regenerate().EXAMPLES.values()]
    assert all(is_valid(row) for row in rows)
    for question in ("dependency_manager", "project_kind", "deploy_target"):
        assert {row[question] for row in rows} == set(choices(question)), question
    used = {language for row in rows for language in row["extra_languages"]}
    assert used == set(choices("extra_languages"))


def test_no_rendered_file_is_ignored_by_git(rendered: Path) -> None:
    """Every file of a render can be committed: no .gitignore (the repository's or the
    render's own) hides one, so a fresh checkout holds the whole example."""
    names = [f"examples/{name}" for name in regenerate().files(rendered)]
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", "--stdin"],
        cwd=ROOT,
        input="\n".join(names),
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    assert ignored == []
