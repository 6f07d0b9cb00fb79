"""Fast tier: the template's own weekly workflow .github/workflows/pins.yml.

Judged as the rendered workflows are (zizmor in both personas, actionlint with
shellcheck, the github-workflows schema), its actions are exactly includes/actions.jinja's
pins, and its `run:` steps are replayed locally in order, with bash as GitHub runs them
(the runner of tests/test_template_update_workflow.py): `origin` is a bare repository
holding a copy of this repository, "Check out" is a fresh clone, the artifact hand-over
a shared folder. GitHub and PyPI are the local stand-ins of tests/pin_sources.py, offering
a new checkout action and a new conda-lock (no pin that requirements/dev.txt
shares, so no relock: uv's resolution needs PyPI itself; tests/test_pins_tool.py covers
the relock). "Set up the template's tools" is skipped: `.venv/bin/python` is this test
environment's Python. Only GitHub's API is not reachable: `gh` is the stand-in that
records its arguments.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import template_repo as tr
from helpers import run, tool
from matrix import ROOT
from pin_sources import GitHost, PyPI, Tag, normalize
from test_pins_tool import bump, copy_repo, pins_module
from test_template_update_workflow import Runner

WORKFLOW = ROOT / ".github" / "workflows" / "pins.yml"
BRANCH = "pins"
BOT = "41898282+github-actions[bot]@users.noreply.github.com"


def load() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    if True in data:  # YAML 1.1 reads the key `on` as True
        data["on"] = data.pop(True)
    return data


# --- judges -----------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["regular", "auditor"])
def test_zizmor_reports_nothing(persona: str) -> None:
    result = subprocess.run(
        [tool("zizmor"), "--offline", "--no-progress", "--format=json", f"--persona={persona}",
         str(WORKFLOW.relative_to(ROOT))],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.stdout.strip(), result.stderr
    findings = json.loads(result.stdout)
    assert findings == [], [(f["ident"], f["locations"][0]["symbolic"]["key"]) for f in findings]


def test_actionlint_reports_nothing() -> None:
    result = subprocess.run(
        [tool("jactionlint"), "--no-online", f"--shellcheck={tool('shellcheck')}",
         "--format=json", str(WORKFLOW.relative_to(ROOT))],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode in {0, 1}, result.stderr
    assert json.loads(result.stdout) == [], result.stdout


def test_schema() -> None:
    run([tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)])


def test_least_privilege_and_pinned_actions() -> None:
    workflow = load()
    assert workflow["permissions"] == {}
    assert set(workflow["on"]) == {"schedule", "workflow_dispatch"}
    bump_job, pull_request = workflow["jobs"]["bump"], workflow["jobs"]["pull-request"]
    assert bump_job["permissions"] == {"contents": "read"}
    assert pull_request["permissions"] == {"contents": "write", "pull-requests": "write"}
    table = {pin.text for pin in pins_module().discover(ROOT) if pin.kind == "action"}
    for job in (bump_job, pull_request):
        for step in job["steps"]:
            if "uses" in step:
                assert step["uses"] in {ref.split(" # ")[0] for ref in table}, step["uses"]
                assert step.get("with", {}).get("persist-credentials") in {None, False}
    text = WORKFLOW.read_text(encoding="utf-8")
    uses = re.findall(r"uses: (\S+ # \S+)$", text, re.MULTILINE)
    assert len(uses) == 4
    assert set(uses) <= table, "each `uses:` line is a pin of includes/actions.jinja, comment too"
    checkouts = [
        s for j in (bump_job, pull_request) for s in j["steps"] if "checkout" in s.get("uses", "")
    ]
    assert all(step["with"]["persist-credentials"] is False for step in checkouts)
    # The write job runs no code of the repository: only git and gh.
    script = next(step["run"] for step in pull_request["steps"] if "run" in step)
    commands = {line.split()[0] for line in script.splitlines() if line.strip()}
    assert not {c for c in commands if "python" in c or c.startswith(("pip", "uv", ".venv"))}
    assert {"git", "gh"} <= commands
    assert "pins.py --write --relock" in next(
        step["run"] for step in bump_job["steps"] if step.get("id") == "bump"
    )


# --- the run: steps, replayed -------------------------------------------------------------


class Pins(Runner):
    """Weekly runs of pins.yml against local GitHub and PyPI stand-ins."""

    def branch_head(self) -> str:
        return tr.git(
            self.origin, "for-each-ref", "--format=%(objectname)", f"refs/heads/{BRANCH}"
        ).strip()

    def week(self, token: bool) -> tuple[dict[str, str], subprocess.CompletedProcess[str] | None]:  # type: ignore[override]
        temp = self.tmp / f"runner-temp-{self.runs}"
        temp.mkdir()
        checkout = self.checkout(f"bump-{self.runs}")
        venv = checkout / ".venv" / "bin"
        venv.mkdir(parents=True)
        (venv / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n', encoding="utf-8")
        (venv / "python").chmod(0o755)
        result, outputs = self.run_job("bump", checkout, temp, {})
        assert result.returncode == 0, result.stdout + result.stderr
        if outputs.get("changed") != "true":
            return outputs, None
        expressions = {
            "GH_TOKEN": "token-for-the-test",
            "HAS_PINS_TOKEN": "true" if token else "false",
            "BASE": "main",
        }
        pushed, _ = self.run_job(
            "pull-request", self.checkout(f"pull-request-{self.runs}"), temp, expressions
        )
        return outputs, pushed


@pytest.fixture
def runner(tmp_path: Path) -> Pins:
    """origin: this repository's files; the sources offer a new checkout (the workflow's
    own action too) and a new conda-lock, every other pin as it is."""
    work = copy_repo(tmp_path / "work", (".",))
    tr.git(work, "init", "--quiet", "--initial-branch=main")
    tr.commit_all(work, "the template")
    tr.git(tmp_path, "clone", "--quiet", "--bare", str(work), str(tmp_path / "origin.git"))

    github, pypi = GitHost(tmp_path / "github"), PyPI(tmp_path / "pypi")
    pins = pins_module().discover(ROOT)
    repos: dict[str, list[Tag]] = {}
    for pin in pins:
        if pin.kind in {"action", "hook"}:
            name = pin.source.removeprefix("https://github.com/")
            repos[name] = [Tag(pin.version)]
        elif pin.package:
            pypi.package(pin.package, {pin.version: (365, False)})
    checkout = next(p for p in pins if p.kind == "action" and p.source == "actions/checkout")
    repos["actions/checkout"].append(Tag(bump(checkout.version, 2), commit_days=30))
    export = next(p for p in pins if p.package == "conda-lock")
    pypi.package(
        export.package, {export.version: (365, False), bump(export.version, 2): (20, False)}
    )
    commits = {name: github.repo(name, tags) for name, tags in repos.items()}
    assert normalize(export.package) not in pins_module().locked(ROOT), "no relock needed"

    workflow = load()
    pins_runner = Pins(tmp_path, workflow)
    pins_runner.env.update({"PINS_GITHUB_URL": github.url})
    pins_runner.new_checkout = (  # type: ignore[attr-defined]
        f"actions/checkout@{commits['actions/checkout'][bump(checkout.version, 2)]}"
        f" # {bump(checkout.version, 2)}"
    )
    pins_runner.new_export = f"conda-lock=={bump(export.version, 2)}"  # type: ignore[attr-defined]
    pins_runner.pypi = pypi  # type: ignore[attr-defined]
    return pins_runner


def test_pins_workflow_steps(runner: Pins) -> None:
    with runner.pypi:  # type: ignore[attr-defined]
        runner.env["PINS_PYPI_URL"] = runner.pypi.url  # type: ignore[attr-defined]
        new_checkout: str = runner.new_checkout  # type: ignore[attr-defined]
        new_export: str = runner.new_export  # type: ignore[attr-defined]

        # Week 1, without PINS_TOKEN: the bump touches this workflow's own pins, which the
        # workflow's token may not push; the rest is proposed, and the body says so.
        outputs, pushed = runner.week(token=False)
        assert outputs == {"changed": "true"}
        assert pushed is not None
        assert pushed.returncode == 0, pushed.stdout + pushed.stderr
        assert "::warning::The bump changes .github/workflows/" in pushed.stdout
        head = runner.branch_head()
        assert tr.git(runner.origin, "log", "-1", "--format=%ae", head).strip() == BOT
        changed = set(tr.git(runner.origin, "diff", "--name-only", "main", BRANCH).split())
        assert {"includes/actions.jinja", "includes/ci.jinja"} <= changed
        assert ".github/workflows/pins.yml" not in changed
        assert any(name.startswith("examples/") and name.endswith("relock.yml") for name in changed)
        assert any(name.startswith("examples/") and name.endswith("ci.yml") for name in changed)
        assert {n for n in changed if not n.startswith("examples/")} == {
            "includes/actions.jinja", "includes/ci.jinja"
        }, "the pins, then the golden examples rendered again; nothing else"  # fmt: skip
        assert new_checkout in tr.git(runner.origin, "show", f"{BRANCH}:includes/actions.jinja")
        assert new_export in tr.git(runner.origin, "show", f"{BRANCH}:includes/ci.jinja")
        created = [call for call in runner.gh_calls() if call.startswith("pr create")]
        assert len(created) == 1
        assert f"--base main --head {BRANCH} --title Bump the template's pins" in created[0]
        body = (runner.tmp / "runner-temp-0" / "pins" / "body.md").read_text(encoding="utf-8")
        assert "- `includes/actions.jinja`" in body
        assert "**Left out: `.github/workflows/`.**" in body
        assert "```text\nwhere" in body, "the tool's report"

        # Week 2, with PINS_TOKEN: the same branch gets the whole bump; the pull request
        # is refreshed, not opened again.
        runner.gh_log.unlink()
        outputs, pushed = runner.week(token=True)
        assert pushed is not None
        assert pushed.returncode == 0, pushed.stdout + pushed.stderr
        assert runner.branch_head() != head
        changed = set(tr.git(runner.origin, "diff", "--name-only", "main", BRANCH).split())
        assert ".github/workflows/pins.yml" in changed
        workflow = tr.git(runner.origin, "show", f"{BRANCH}:.github/workflows/pins.yml")
        assert workflow.count(new_checkout) == 2
        assert [c.split()[:2] for c in runner.gh_calls() if c.startswith("pr ")] == [
            ["pr", "list"],
            ["pr", "edit"],
        ]

        # The pull request is merged: every pin is current, nothing to propose.
        merge = runner.checkout("merge")
        tr.git(merge, "merge", "--quiet", "--ff-only", f"origin/{BRANCH}")
        tr.git(merge, "push", "--quiet", "origin", "main")
        outputs, pushed = runner.week(token=True)
        assert outputs == {"changed": "false"}
        assert pushed is None
