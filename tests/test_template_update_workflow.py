"""Fast tier: the `run:` steps of .github/workflows/template-update.yml, run for real.

The workflow cannot run on GitHub from here, so its jobs are replayed locally, step by
step, in order, with bash as GitHub runs them: a project rendered at NEW_TAG of a
throwaway template repository (tests/template_repo.py) whose template has meanwhile
released a newer tag. `origin` is a local bare repository; "Check out" is a fresh clone
of it, the artifact hand-over is a shared folder, and "Set up Copier" is the test
environment's Copier (the same pinned version: test_update.py checks). Only GitHub's
API is not reachable: `gh` is a stand-in that records its arguments and answers
`gh pr list` from what an earlier `gh pr create` recorded. Everything git does (the
update, the patch, the commit, the push) is real.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

import template_repo as tr
from helpers import BIN
from matrix import BASE, ROOT

NEWER_TAG = "v1.2.0"
CHECK = "Ask the template for a newer release"
UPDATE = "Update from the template"
NEWER_PIN = "actions/checkout@0c366fd6a839edf440554fa01a7085ccba70ac98 # v7.1.0"
BRANCH = "template-update"
BOT = "41898282+github-actions[bot]@users.noreply.github.com"

GH_STAND_IN = """#!/bin/bash
# Stand-in for the GitHub CLI: records the call, answers `pr list` and `pr create`.
printf '%s\\n' "$*" >> "$GH_LOG"
case "$1 $2" in
  "pr list") cat "$GH_STATE" 2>/dev/null || true ;;
  "pr create") echo 7 > "$GH_STATE"; echo "https://github.com/OWNER/REPO/pull/7" ;;
esac
"""


class Runner:
    """Replays the workflow's jobs in fresh clones of `origin`."""

    def __init__(self, tmp: Path, workflow: dict[str, Any]) -> None:
        self.tmp = tmp
        self.workflow = workflow
        self.origin = tmp / "origin.git"
        self.runs = 0
        bin_dir = tmp / "bin"
        bin_dir.mkdir()
        (bin_dir / "gh").write_text(GH_STAND_IN, encoding="utf-8")
        (bin_dir / "gh").chmod(0o755)
        self.gh_log = tmp / "gh.log"
        self.gh_state = tmp / "gh.state"
        home = tmp / "home"
        home.mkdir()
        self.env = {
            "PATH": os.pathsep.join([str(bin_dir), str(BIN), os.environ["PATH"]]),
            "HOME": str(home),
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GH_LOG": str(self.gh_log),
            "GH_STATE": str(self.gh_state),
            "LANG": "C.UTF-8",
        }

    def checkout(self, name: str) -> Path:
        target = self.tmp / name
        subprocess.run(
            ["git", "clone", "--quiet", str(self.origin), str(target)],
            check=True,
            env={**self.env},
        )
        return target

    def run_job(
        self, job: str, cwd: Path, runner_temp: Path, expressions: dict[str, str]
    ) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
        """The job's `run:` steps in order (but "Set up" ones), each with its own
        GITHUB_OUTPUT, skipping a step whose `if:` (`steps.ID.outputs.NAME == 'VALUE'`) is
        false; stops at a failing step. Returns the last step's result and the job's
        outputs (its `outputs:` read from the steps'). `self.ran` names the steps run."""
        result = subprocess.CompletedProcess[str]([], 0, "", "")
        steps: dict[str, dict[str, str]] = {}
        self.ran: list[str] = []
        number = self.runs
        self.runs += 1
        for index, step in enumerate(self.workflow["jobs"][job]["steps"]):
            if "run" not in step or step["name"].startswith("Set up "):
                continue
            if "if" in step and not self.condition(str(step["if"]), steps):
                continue
            output = self.tmp / f"output-{number}-{index}"
            output.write_text("", encoding="utf-8")
            step_env = {}
            for key, value in step.get("env", {}).items():
                text = str(value)
                step_env[key] = expressions[key] if "${{" in text else text
            result = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                cwd=cwd,
                env={
                    **self.env,
                    **step_env,
                    "GITHUB_OUTPUT": str(output),
                    "RUNNER_TEMP": str(runner_temp),
                },
                capture_output=True,
                text=True,
                check=False,
                timeout=600,
            )
            self.ran.append(step["name"])
            steps[step.get("id", step["name"])] = dict(
                line.split("=", 1) for line in output.read_text(encoding="utf-8").splitlines()
            )
            if result.returncode != 0:
                break
        outputs = {}
        for name, expression in self.workflow["jobs"][job].get("outputs", {}).items():
            found = re.fullmatch(r"\$\{\{ steps\.([\w-]+)\.outputs\.(\w+) \}\}", expression)
            assert found, f"the runner reads only steps' outputs: {expression}"
            outputs[name] = steps.get(found.group(1), {}).get(found.group(2), "")
        return result, outputs

    @staticmethod
    def condition(expression: str, steps: dict[str, dict[str, str]]) -> bool:
        found = re.fullmatch(r"steps\.([\w-]+)\.outputs\.(\w+) == '([^']*)'", expression)
        assert found, f"the runner cannot evaluate `if: {expression}`"
        return steps.get(found.group(1), {}).get(found.group(2), "") == found.group(3)

    def week(self, token: bool) -> tuple[dict[str, str], subprocess.CompletedProcess[str] | None]:
        """One scheduled run: job `update`, then `pull-request` if it has a change."""
        temp = self.tmp / f"runner-temp-{self.runs}"
        temp.mkdir()
        result, outputs = self.run_job("update", self.checkout(f"update-{self.runs}"), temp, {})
        assert result.returncode == 0, result.stderr
        self.update_ran, self.update_result = list(self.ran), result
        if outputs.get("changed") != "true":
            return outputs, None
        expressions = {
            "GH_TOKEN": "token-for-the-test",
            "HAS_UPDATE_TOKEN": "true" if token else "false",
            "BASE": "main",
        }
        checkout = self.checkout(f"pull-request-{self.runs}")
        pushed, _ = self.run_job("pull-request", checkout, temp, expressions)
        return outputs, pushed

    def gh_calls(self) -> list[str]:
        if not self.gh_log.exists():
            return []
        return self.gh_log.read_text(encoding="utf-8").splitlines()

    def branch_head(self) -> str:
        found = tr.git(
            self.origin, "for-each-ref", "--format=%(objectname)", f"refs/heads/{BRANCH}"
        )
        return found.strip()


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Runner, Path, Path]:
    """A project at NEW_TAG with a README edit, pushed to `origin`; the template then
    releases NEWER_TAG, which bumps the checkout action and rewords that README line."""
    template = tr.build(tmp_path / "groundwork")
    project = tr.render(template, BASE, tmp_path / "project", tr.NEW_TAG, init=True)
    readme = project / "README.md"
    line = next(
        text
        for text in readme.read_text(encoding="utf-8").splitlines()
        if text.startswith("This repository records")
    )
    tr.replace_line(
        readme, line, "This repository is updated from the template by the platform team."
    )
    tr.commit_all(project, "our README")
    origin = tmp_path / "origin.git"
    tr.git(tmp_path, "clone", "--quiet", "--bare", str(project), str(origin))

    actions = template / "includes" / "actions.jinja"
    text = actions.read_text(encoding="utf-8")
    # Once requirements/pins.py moves the real pin this far, the update would bring nothing.
    assert NEWER_PIN not in text, "NEWER_PIN must be newer than includes/actions.jinja's pin"
    actions.write_text(
        re.sub(r"actions/checkout@[0-9a-f]{40} # v[\d.]+", NEWER_PIN, text), encoding="utf-8"
    )
    readme_template = template / "template" / "README.md.jinja"
    words = readme_template.read_text(encoding="utf-8")
    assert words.count("This repository records its template answers") == 1
    readme_template.write_text(
        words.replace(
            "This repository records its template answers",
            "This repository keeps its template answers",
        ),
        encoding="utf-8",
    )
    tr.commit_all(template, f"template {NEWER_TAG}")
    tr.git(template, "tag", NEWER_TAG)

    workflow = yaml.safe_load((project / tr.NEW_FILE).read_text(encoding="utf-8"))
    return Runner(tmp_path, workflow), project, template


def test_template_update_workflow_steps(setup: tuple[Runner, Path, Path]) -> None:
    runner, _project, template = setup

    # Week 1, without a token that may push workflow changes: the update touches ci.yml,
    # so the job stops with the message the README explains, and pushes nothing.
    outputs, pushed = runner.week(token=False)
    assert outputs == {"changed": "true"}
    assert runner.update_ran == [CHECK, UPDATE], "the check found the newer release"
    assert pushed is not None
    assert pushed.returncode != 0
    assert "::error::This update changes .github/workflows/" in pushed.stdout
    assert runner.branch_head() == ""
    assert [call for call in runner.gh_calls() if call.startswith(("pr edit", "pr create"))] == []

    # Week 2, with the token: one branch, one commit by the bot, one pull request.
    outputs, pushed = runner.week(token=True)
    assert pushed is not None
    assert pushed.returncode == 0, pushed.stderr
    head = runner.branch_head()
    assert head
    assert tr.git(runner.origin, "log", "-1", "--format=%ae", head).strip() == BOT
    count = tr.git(runner.origin, "rev-list", "--count", f"main..{BRANCH}").strip()
    assert count == "1"
    changed = tr.git(runner.origin, "diff", "--name-only", "main", BRANCH).split()
    assert set(changed) == {
        ".copier-answers.yml",
        ".github/workflows/audit.yml",
        ".github/workflows/ci.yml",
        ".github/workflows/deploy.yml",
        ".github/workflows/docs.yml",
        ".github/workflows/template-update.yml",
        "README.md",
    }
    readme = tr.git(runner.origin, "show", f"{BRANCH}:README.md")
    assert "<<<<<<< before updating" in readme
    assert "platform team" in readme
    assert "keeps its template answers" in readme
    assert NEWER_PIN in tr.git(runner.origin, "show", f"{BRANCH}:.github/workflows/ci.yml")
    answers = yaml.safe_load(tr.git(runner.origin, "show", f"{BRANCH}:.copier-answers.yml"))
    assert answers["_commit"] == NEWER_TAG
    created = [call for call in runner.gh_calls() if call.startswith("pr create")]
    assert len(created) == 1
    assert f"--base main --head {BRANCH}" in created[0]
    assert f"--title Update from the template to {NEWER_TAG}" in created[0]
    body = (runner.tmp / "runner-temp-2" / "template-update" / "body.md").read_text()
    assert f"from {tr.NEW_TAG} to {NEWER_TAG}" in body
    assert "**Files with conflicts.**" in body
    assert "- `README.md`" in body
    assert "ci.yml" not in body, "ci.yml merged cleanly: not listed"

    # Week 3, nothing new: the same update; the branch is not pushed again, the one
    # pull request is refreshed.
    runner.gh_log.unlink()
    outputs, pushed = runner.week(token=True)
    assert pushed is not None
    assert pushed.returncode == 0, pushed.stderr
    assert runner.branch_head() == head
    calls = runner.gh_calls()
    assert [call.split()[:2] for call in calls if call.startswith("pr ")] == [
        ["pr", "list"],
        ["pr", "edit"],
    ]
    assert calls[-1].startswith("pr edit 7 ")

    # Someone resolves the conflict on the branch: the next run leaves it alone.
    resolve = runner.checkout("resolve")
    tr.git(resolve, "switch", "--quiet", BRANCH)
    text = (resolve / "README.md").read_text(encoding="utf-8")
    resolved = re.sub(
        r"^<<<<<<< before updating\n(.*?)^=======\n.*?^>>>>>>> after updating\n",
        r"\1",
        text,
        flags=re.MULTILINE | re.DOTALL,
    )
    (resolve / "README.md").write_text(resolved, encoding="utf-8")
    tr.commit_all(resolve, "keep our README line")
    tr.git(resolve, "push", "--quiet", "origin", BRANCH)
    resolved_head = runner.branch_head()
    runner.gh_log.unlink()
    outputs, pushed = runner.week(token=True)
    assert pushed is not None
    assert pushed.returncode == 0, pushed.stderr
    assert "::warning::" in pushed.stdout
    assert runner.branch_head() == resolved_head
    assert [call for call in runner.gh_calls() if call.startswith(("pr edit", "pr create"))] == []

    # The pull request is merged (its branch, whose last commit is ours, stays): nothing
    # to propose until the template releases again; then a new pull request.
    tr.git(resolve, "switch", "--quiet", "main")
    tr.git(resolve, "merge", "--quiet", "--ff-only", BRANCH)
    tr.git(resolve, "push", "--quiet", "origin", "main")
    runner.gh_state.unlink()
    outputs, pushed = runner.week(token=True)
    assert outputs == {"changed": ""}
    assert pushed is None
    # Nothing new: `copier check-update` ends the run; `copier update` does not run.
    assert runner.update_ran == [CHECK]
    assert "Up to date with the template's newest release" in runner.update_result.stdout

    readme_template = template / "template" / "README.md.jinja"
    words = readme_template.read_text(encoding="utf-8")
    assert words.count("run the tests and commit.") == 1
    readme_template.write_text(
        words.replace("run the tests and commit.", "run the tests, then commit."),
        encoding="utf-8",
    )
    tr.commit_all(template, "template v1.3.0")
    tr.git(template, "tag", "v1.3.0")
    runner.gh_log.unlink()
    outputs, pushed = runner.week(token=False)
    assert pushed is not None
    assert pushed.returncode == 0, pushed.stderr
    fresh_head = runner.branch_head()
    assert tr.git(runner.origin, "log", "-1", "--format=%ae", fresh_head).strip() == BOT
    assert (
        tr.git(runner.origin, "rev-parse", f"{fresh_head}~1").strip()
        == tr.git(runner.origin, "rev-parse", "main").strip()
    )
    assert [call.split()[:2] for call in runner.gh_calls() if call.startswith("pr ")] == [
        ["pr", "list"],
        ["pr", "create"],
    ]


def test_the_pull_request_job_alone_holds_write_scopes(setup: tuple[Runner, Path, Path]) -> None:
    runner, _project, _template = setup
    workflow = runner.workflow
    assert workflow["permissions"] == {"contents": "read"}
    assert "permissions" not in workflow["jobs"]["update"]
    job = workflow["jobs"]["pull-request"]
    assert job["permissions"] == {"contents": "write", "pull-requests": "write"}
    # The write job runs no third-party code: checkout, the artifact, then git and gh.
    uses = [step["uses"].split("@")[0] for step in job["steps"] if "uses" in step]
    assert uses == ["actions/checkout", "actions/download-artifact"]
    script = next(step["run"] for step in job["steps"] if "run" in step)
    commands = {line.split()[0] for line in script.splitlines() if line.strip()}
    assert "copier" not in commands
    assert "pipx" not in commands
    update = workflow["jobs"]["update"]
    runs = " ".join(step.get("run", "") for step in update["steps"])
    assert "copier update --defaults --conflict inline" in runs
    assert "--trust" not in runs
    assert "UNSAFE" not in runs
    triggers = workflow[True] if True in workflow else workflow["on"]
    assert set(triggers) == {"schedule", "workflow_dispatch"}


def test_a_failing_check_fails_the_run(setup: tuple[Runner, Path, Path]) -> None:
    """The check's errors are not read as "nothing new": a project whose answers file
    records no release stops the job with Copier's message."""
    runner, project, _template = setup
    answers = project / ".copier-answers.yml"
    answers.write_text(
        "".join(line for line in answers.read_text(encoding="utf-8").splitlines(keepends=True)
                if not line.startswith("_commit:")),
        encoding="utf-8",
    )  # fmt: skip
    tr.commit_all(project, "answers without _commit")
    temp = runner.tmp / "runner-temp-check"
    temp.mkdir()
    result, outputs = runner.run_job("update", project, temp, {})
    assert result.returncode == 1, result.stdout + result.stderr
    assert runner.ran == [CHECK]
    assert "Cannot check" in result.stderr
    assert outputs == {"changed": ""}


def test_the_pinned_copier_has_check_update() -> None:
    from packaging.version import Version

    pin = re.search(r'copier_version = "([^"]+)"', (ROOT / "includes" / "update.jinja").read_text())
    assert pin
    assert Version(pin.group(1)) >= Version("9.13.0"), "check-update --quiet came in 9.13.0"
