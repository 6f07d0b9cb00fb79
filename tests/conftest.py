"""Shared fixtures: each combination rendered once per test run; strict mode.

Tiers: unmarked tests are the fast tier; `install` and `docker` mark the slow ones.
See helpers.py for strict mode (GROUNDWORK_STRICT=1).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import aws_judges
import aws_stack
import images
from helpers import OFFLINE_SKIP, STRICT
from matrix import Answers, combo_id, complete

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pytest_copie.plugin import Copie


class Renders:
    """Renders each combination at most once per test run, shared by the xdist workers.

    The first worker that needs a combination renders it under a file lock and moves it
    into the run's shared directory, out of pytest-copie's, which each worker deletes
    when it finishes; the others reuse it, whichever worker the scheduler sends a test to.
    """

    def __init__(self, copie: Copie, shared: Path) -> None:
        self._copie = copie
        self._shared = shared
        self._done: dict[str, Path] = {}

    def __call__(self, answers: Answers) -> Path:
        full = complete(answers)
        key = combo_id(full) + repr(sorted(full.items()))
        if key not in self._done:
            digest = hashlib.sha256(key.encode()).hexdigest()[:20]
            target = self._shared / digest
            done = self._shared / f"{digest}.done"
            with (self._shared / f"{digest}.lock").open("w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                if not done.is_file():
                    result = self._copie.copy(extra_answers=full)
                    if result.exit_code != 0 or result.project_dir is None:
                        pytest.fail(f"render failed for {combo_id(full)}: {result.exception!r}")
                    shutil.rmtree(target, ignore_errors=True)
                    shutil.move(result.project_dir, target)
                    done.touch()
            self._done[key] = target
        return self._done[key]


@pytest.fixture(scope="session")
def render(copie_session: Copie, tmp_path_factory: pytest.TempPathFactory) -> Renders:
    """`render(answers) -> Path` of the rendered project (shared; do not modify it)."""
    base = tmp_path_factory.getbasetemp()
    # Under xdist each worker's base directory sits in the run's common directory.
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "renders"
    shared.mkdir(parents=True, exist_ok=True)
    return Renders(copie_session, shared)


@pytest.fixture
def render_copy(render: Renders, tmp_path: Path):  # type: ignore[no-untyped-def]
    """`render_copy(answers) -> Path`: a private, writable copy of a render."""

    def _copy(answers: Answers) -> Path:
        target = tmp_path / "project"
        shutil.copytree(render(answers), target)
        return target

    return _copy


@pytest.fixture(scope="session")
def docker_ready() -> None:
    """Skip when images cannot be built here (tests/images.py decides, once for all tests
    that build one); strict mode turns the skip into a failure."""
    reason = images.unavailable()
    if reason is not None:
        pytest.skip(reason)


@pytest.fixture
def moto(tmp_path: Path) -> Iterator[aws_stack.Moto]:
    """A fresh local AWS (moto server) for this test only: failed stacks are not rolled back."""
    with aws_stack.moto_server(tmp_path) as server:
        yield server


@pytest.fixture(scope="session")
def checkov() -> str:
    """checkov's executable, from its own hash-locked venv (tests/aws_judges.py)."""
    return aws_judges.install_checkov()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if not STRICT or not report.skipped:
        return
    if not ({"install", "docker"} & {mark.name for mark in item.iter_markers()}):
        return
    reason = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if reason.removeprefix("Skipped: ").startswith(OFFLINE_SKIP):
        return
    report.outcome = "failed"
    report.longrepr = f"GROUNDWORK_STRICT=1 turns this skip into a failure: {reason}"
