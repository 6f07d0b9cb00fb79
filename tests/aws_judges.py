"""The judges of infra/aws.yml: cfn-lint (from the dev group) and checkov (from its own
hash-locked venv under .cache/checkov, since its pins clash with the dev group's)."""

from __future__ import annotations

import fcntl
import hashlib
import json
import subprocess
import sys
from functools import cache
from typing import Any

from helpers import run, tool
from matrix import ROOT


def install_checkov() -> str:
    """checkov from its own venv under .cache/checkov (its pins clash with the dev group),
    installed from requirements/checkov.txt with hashes, like the dev tools."""
    venv = ROOT / ".cache" / "checkov"
    executable = venv / "bin" / "checkov"
    lock_text = (ROOT / "requirements" / "checkov.txt").read_text(encoding="utf-8")
    stamp = venv / "lock.sha256"
    wanted = hashlib.sha256(lock_text.encode()).hexdigest()
    venv.parent.mkdir(parents=True, exist_ok=True)
    with (venv.parent / "checkov.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (
            not executable.exists()
            or not stamp.exists()
            or stamp.read_text(encoding="utf-8") != wanted
        ):
            run([sys.executable, "-m", "venv", "--clear", str(venv)])
            python = str(venv / "bin" / "python")
            run(
                [python, "-m", "pip", "install", "--quiet", "--require-hashes",
                 "-r", str(ROOT / "requirements" / "checkov.txt")],
                timeout=1200,
            )  # fmt: skip
            stamp.write_text(wanted, encoding="utf-8")
    return str(executable)


@cache
def judged(content: str, checkov: str) -> dict[str, Any]:
    """cfn-lint and checkov on one stack text (cached: most renders share the same text)."""
    folder = ROOT / ".cache" / "aws-stacks"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha256(content.encode()).hexdigest()[:16]}.yml"
    path.write_text(content, encoding="utf-8")
    lint = subprocess.run(
        [tool("cfn-lint"), "--include-checks", "I", "--format", "parseable", "--", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    scan = subprocess.run(
        [checkov, "--skip-download", "--framework", "cloudformation",
         "--output", "json", "--file", str(path)],
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert scan.stdout.strip(), scan.stderr[-3000:]
    report = json.loads(scan.stdout)
    return {"lint": (lint.returncode, lint.stdout + lint.stderr), "checkov": report}
