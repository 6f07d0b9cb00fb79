"""Install tier: a service rendered before the model artifact updates to a working service.

`core.py` and `__init__.py` are the user's after the first copy: `copier update` keeps
their old versions (constants `DEFAULT_MODEL`, `LinearModel`, `standardize`), while it
brings today's `app.py`, `cli.py`, `model.py`, `train.py` and tests. Those must not need
anything the old `core.py` lacks. The older release is the template as this repository's
history has it at PREVIOUS, the last commit before the artifact (tests/template_repo.py
builds the two releases). The user follows CHANGELOG's manual step (relock: numpy and
pyarrow are new dependencies), then the generated tests pass and `serve` serves the
packaged sample model.
"""

from __future__ import annotations

import json
import urllib.request
from typing import TYPE_CHECKING

import pytest
from test_model_service import CLI, PYTHON, serving

import lockers
import template_repo as tr
from matrix import complete

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.install

# The template before models became artifacts (its service served core.DEFAULT_MODEL).
PREVIOUS = "bf22ec43f46fcbbfe5c9f9728c0de3ccb6aac68f"
ANSWERS = complete(
    {"project_kind": "service", "dependency_manager": "uv", "python_version": PYTHON}
)


def test_an_old_service_updates_to_one_that_serves_the_artifact(tmp_path: Path) -> None:
    template = tr.build(tmp_path / "groundwork", old=tr.files_at(PREVIOUS))
    project = tr.render(template, ANSWERS, tmp_path / "project", tr.OLD_TAG, init=True)
    package = ANSWERS["package_name"]
    assert not (project / "src" / package / "model.py").exists(), "the old release"
    lockers.lock(project, "uv", PYTHON)
    tr.commit_all(project, "Lock dependencies")
    old_core = (project / "src" / package / "core.py").read_text(encoding="utf-8")
    old_init = (project / "src" / package / "__init__.py").read_text(encoding="utf-8")

    tr.update(project)

    assert tr.conflicted(project) == []
    assert tr.files_with_markers(project) == []
    assert (project / "src" / package / "core.py").read_text(encoding="utf-8") == old_core
    assert (project / "src" / package / "__init__.py").read_text(encoding="utf-8") == old_init
    assert (project / "src" / package / "model.py").is_file()
    # CHANGELOG's manual step: the new runtime dependencies need a new lock.
    lockers.shell("nox -s lock", project, PYTHON)
    lockers.install(project, "uv", PYTHON)
    result = lockers.shell("nox -s test", project, PYTHON)
    assert " passed" in result.stdout
    lockers.shell("nox -s typecheck", project, PYTHON)  # the old core.py with the new modules
    with serving(project, f"uv run {CLI} serve", {}) as base:
        with urllib.request.urlopen(f"{base}/health", timeout=10) as response:
            health = json.loads(response.read())
        assert health["model_version"] == "sample-1"
