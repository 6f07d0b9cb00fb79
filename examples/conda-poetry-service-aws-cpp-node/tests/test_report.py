"""Tests of the Node.js package (src/demo_project/node/) and its Python wrapper.

They run Node.js for real and skip, saying why, where it is not installed.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from importlib.resources import as_file, files

import pytest

from demo_project.report import render_report

NODE = shutil.which("node")
needs_node = pytest.mark.skipif(
    NODE is None, reason="node is not installed: install Node.js to run this test (see README.md)"
)


@needs_node
def test_the_node_package_tests_pass() -> None:
    assert NODE is not None
    with as_file(files("demo_project") / "node") as package:
        result = subprocess.run(
            [NODE, "--test"],
            cwd=package,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 0, result.stdout + result.stderr


@needs_node
def test_render_report_from_python() -> None:
    report = render_report([0.25, 1.5, -0.5], title="Nightly run")
    lines = report.splitlines()
    assert lines[0] == "# Nightly run"
    assert "3 rows; mean 0.417, min -0.500, max 1.500." in lines
    assert lines[-3:] == ["| 1 | 0.250 |", "| 2 | 1.500 |", "| 3 | -0.500 |"]


@needs_node
def test_render_report_escapes_the_title() -> None:
    assert render_report([], title="a|b").startswith("# a\\|b\n")


def test_render_report_rejects_non_finite_scores() -> None:
    with pytest.raises(ValueError, match="JSON"):
        render_report([math.nan])
