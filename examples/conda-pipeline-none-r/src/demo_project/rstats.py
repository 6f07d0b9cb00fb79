"""Summary statistics computed by R: runs ``r/summarize.R`` with ``Rscript``.

The R script ships inside the package, so this works from a wheel and in the container
too, wherever R is installed (``Rscript`` on ``PATH``). It uses base R only.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from importlib.resources import as_file, files
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

SCRIPT = files("demo_project") / "r" / "summarize.R"
STATISTICS = ("n", "mean", "sd", "min", "q25", "median", "q75", "max")


def summarize(values: Sequence[float]) -> dict[str, float]:
    """Summary statistics of ``values``, computed by R.

    Returns n, mean, sd (sample standard deviation; NaN for a single value), min, the
    quartiles q25, median and q75 (R's default type 7, the same as Python's
    ``statistics.quantiles(..., method="inclusive")``) and max.
    """
    if not values:
        msg = "summarize() needs at least one value"
        raise ValueError(msg)
    if not all(math.isfinite(value) for value in values):
        msg = "summarize() needs finite values"
        raise ValueError(msg)
    rscript = shutil.which("Rscript")
    if rscript is None:
        msg = "Rscript is not on PATH: install R (see README.md, 'Other languages')"
        raise RuntimeError(msg)
    with as_file(SCRIPT) as script:
        result = subprocess.run(
            [rscript, "--vanilla", str(script)],
            input="\n".join(repr(float(value)) for value in values) + "\n",
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    if result.returncode != 0:
        msg = f"{SCRIPT.name} failed ({result.returncode}): {result.stderr.strip()}"
        raise RuntimeError(msg)
    summary: dict[str, float] = {}
    for line in result.stdout.splitlines():
        name, _, value = line.partition("\t")
        summary[name] = math.nan if value == "NA" else float(value)
    if tuple(summary) != STATISTICS:
        msg = f"unexpected output from {SCRIPT.name}: {result.stdout!r}"
        raise RuntimeError(msg)
    return summary
