"""Fast tier: `nox -s infra`, which CI's "AWS stack" job runs, passes on aws renders.

nox runs the rendered noxfile's own commands; each is `pipx run --spec NAME==VERSION
TOOL ARGS`. pipx is not installed here, so a stand-in `pipx` on PATH records the spec
and runs the test environment's cfn-lint, or checkov from its own venv (tests/aws_judges.py),
which are exactly those versions (test_groups.py checks the pins), with the task's own
arguments. A stack with a finding makes the task fail.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from helpers import params, tool
from matrix import Answers, complete

PIPX_STAND_IN = """#!/bin/bash
# pipx run --spec NAME==VERSION TOOL ARGS...: record the spec, run the tested tool.
[ "$1" = run ] && [ "$2" = --spec ] || exit 2
printf '%s\\n' "$3" >> "$PIPX_LOG"
shift 3
case "$1" in
  cfn-lint) shift; exec "$CFN_LINT" "$@" ;;
  checkov) shift; exec "$CHECKOV" "$@" ;;
esac
exit 2
"""


def infra(project: Path, checkov: str, bin_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("nox"), "-s", "infra", "--no-color"],
        cwd=project, capture_output=True, text=True, timeout=900, check=False,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
             "PIPX_LOG": str(bin_dir / "pipx.log"), "CFN_LINT": tool("cfn-lint"),
             "CHECKOV": checkov},
    )  # fmt: skip


@pytest.mark.parametrize(
    "answers",
    params(complete({"project_kind": kind, "deploy_target": "aws"}) for kind in ["service"]),
)
def test_infra_task_lints_the_stack(
    render_copy, checkov: str, answers: Answers, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    project = render_copy(answers)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pipx").write_text(PIPX_STAND_IN, encoding="utf-8")
    (bin_dir / "pipx").chmod(0o755)

    passed = infra(project, checkov, bin_dir)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    specs = (bin_dir / "pipx.log").read_text("utf-8").split()
    assert [spec.split("==")[0] for spec in specs] == ["cfn-lint", "checkov"]

    stack = project / "infra" / "aws.yml"
    # A bucket without versioning or access logs: valid for cfn-lint, not for checkov.
    stack.write_text(
        stack.read_text("utf-8").replace(
            "\nResources:\n",
            "\nResources:\n  OpenBucket:\n    Type: AWS::S3::Bucket\n",
            1,
        ),
        "utf-8",
    )
    failed = infra(project, checkov, bin_dir)
    assert failed.returncode != 0, failed.stdout + failed.stderr
    assert "checkov" in failed.stderr.splitlines()[-2], failed.stderr
    assert "OpenBucket" in failed.stdout + failed.stderr
