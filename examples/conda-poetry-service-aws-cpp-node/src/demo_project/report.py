"""Markdown reports of scores, rendered by the Node.js package in ``node/``.

``node/report.js`` ships inside the package, so this works from a wheel and in the
container too, wherever Node.js is installed (``node`` on ``PATH``). It has no npm
dependencies.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from importlib.resources import as_file, files
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

SCRIPT = files("demo_project") / "node" / "report.js"


def render_report(scores: Sequence[float], title: str = "Scores") -> str:
    """A Markdown report of ``scores``: a summary line and one table row per score."""
    # allow_nan=False: NaN and infinity are not JSON, so they fail here with ValueError.
    payload = json.dumps({"title": title, "scores": [float(s) for s in scores]}, allow_nan=False)
    node = shutil.which("node")
    if node is None:
        msg = "node is not on PATH: install Node.js (see README.md, 'Other languages')"
        raise RuntimeError(msg)
    with as_file(SCRIPT) as script:
        result = subprocess.run(
            [node, str(script)],
            input=payload,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=60,
            check=False,
        )
    if result.returncode != 0:
        msg = f"{SCRIPT.name} failed ({result.returncode}): {result.stderr.strip()}"
        raise RuntimeError(msg)
    return result.stdout
