"""Fast tier: the template's own Pages workflow, .github/workflows/docs.yml.

Judged as the rendered workflows are: zizmor offline in both personas, actionlint with
shellcheck on its `run:` scripts, the github-workflows schema. Its actions are exactly
includes/actions.jinja's pins, with their version comments; only the deploy job may write
to Pages; and it builds the site with the command README.md gives, which
tests/test_docs.py runs in the same tier.
"""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from typing import Any

import pytest
import yaml

from helpers import run, tool
from matrix import ROOT
from test_pins_tool import pins_module

WORKFLOW = ROOT / ".github" / "workflows" / "docs.yml"


def load() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    if True in data:  # YAML 1.1 reads the key `on` as True
        data["on"] = data.pop(True)
    return data


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
    assert set(workflow["on"]) == {"push", "workflow_dispatch"}
    assert workflow["on"]["push"] == {"branches": ["main"]}
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    assert build["permissions"] == {"contents": "read"}
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"
    assert deploy["needs"] == "build"
    # The job that may write runs no code of the repository: one action, no `run:`.
    assert [step.get("uses", "").split("@")[0] for step in deploy["steps"]] == [
        "actions/deploy-pages"
    ]
    table = {pin.text for pin in pins_module().discover(ROOT) if pin.kind == "action"}
    text = WORKFLOW.read_text(encoding="utf-8")
    uses = re.findall(r"uses: (\S+ # \S+)$", text, re.MULTILINE)
    assert len(uses) == len(re.findall(r"uses:", text)) == 4
    assert set(uses) <= table, "each `uses:` line is a pin of includes/actions.jinja, comment too"
    for step in build["steps"]:
        if "checkout" in step.get("uses", ""):
            assert step["with"]["persist-credentials"] is False


def test_it_builds_what_readme_says_into_the_site_folder() -> None:
    build = load()["jobs"]["build"]
    runs = [step["run"] for step in build["steps"] if "run" in step]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    documented = re.search(r"^(\.venv/bin/python docs/gen_pages\.py)\b", readme, re.MULTILINE)
    assert documented
    assert documented.group(1) in runs
    tools = next(command for command in runs if "requirements/dev.txt" in command)
    assert "--require-hashes" in tools
    site_dir = tomllib.loads((ROOT / "zensical.toml").read_text(encoding="utf-8"))["project"]
    upload = next(s for s in build["steps"] if "upload-pages-artifact" in s.get("uses", ""))
    assert upload["with"]["path"] == site_dir["site_dir"]
    assert any("setup-node" in step.get("uses", "") for step in build["steps"]), "npm ci"
