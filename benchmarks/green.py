"""Benchmark render-to-green per dependency manager, side by side in one run, as ratios.

Run from the repository root with the dev tools installed:

    python benchmarks/green.py                          # every PyPI manager, this tree
    python benchmarks/green.py --baseline bf22ec4       # and the template at that commit
    python benchmarks/green.py --baseline REF --write-docs   # the table into docs/benchmarks.md
    python benchmarks/green.py --repeat 5 uv pip        # more rounds, some managers

What is measured, for each manager (a library on the default Python): `copier copy` of the
template, then every command of the rendered README's "From a fresh clone to green tests"
block, in order (prepare, lock, install, test), as a user runs them in a new repository.
The block is read from each render, so a template at another commit is measured with its
own commands. The managers' download caches are warm (the users' default cache
directories; one untimed round per subject first), as on a developer's machine after the
first project. Subjects are interleaved round by round and the median is reported, so a
busy machine slows every subject alike.

Test set-up, the same as the install tier's (tests/lockers.py): `pyenv install` is not
run (the pyenv interpreter comes first on PATH instead), and the test-only settings of
tests/lockers.py (Poetry's package source, PDM's zensical override) are added to
pyproject.toml before the first command. The conda family cannot solve here and is not
measured.

pip's subjects reach the package index through a local front (tests/pypi_json.py) that
gives the JSON API's file URLs as pypi.org gives them: this machine's index answers with
relative ones, and pip-tools, finding no match with the simple index's links, would
download and hash every file of every pinned version, which it does not do against
pypi.org. Both templates are measured through the front; `--direct` leaves it out.

--baseline REF renders the same projects from the template at git REF too (`git archive`),
so the tree being worked on and the commit before a change are measured in the same run;
the tree itself is measured as it is on disk (tracked and new files, ignored ones left
out), committed or not.

Numbers are never asserted in tests: they depend on the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import pypi_json

import lockers
from matrix import complete

COPIER = [sys.executable, "-m", "copier"]
DOCS_PAGE = ROOT / "docs" / "benchmarks.md"
BEGIN = "<!-- green table: written by benchmarks/green.py --write-docs -->"
END = "<!-- end of green table -->"
# What a manager other than uv may take, against the commit before dependency groups.
TARGET = 0.7


def check(args: list[str], cwd: Path | None = None, **kwargs: Any) -> str:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False, **kwargs)
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(args)}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout


def tree(destination: Path) -> Path:
    """The template as it is on disk: tracked and new files, ignored ones left out."""
    listed = check(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT
    ).split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file() and not name.startswith("examples/"):
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def archive(ref: str, destination: Path) -> Path:
    """The template at a git commit."""
    destination.mkdir(parents=True)
    tar = subprocess.run(
        ["git", "archive", "--format=tar", ref], cwd=ROOT, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(destination)], input=tar, check=True)
    return destination


def green_block(project: Path) -> list[str]:
    """README's "From a fresh clone to green tests" commands, comments left out."""
    readme = (project / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Getting started", 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def phase(command: str, manager: str, position: int, commands: list[str]) -> str:
    """lock, install or test, for the breakdown: what the README line does."""
    if position == len(commands) - 1:
        return "test"
    lock = [lockers.fill(c, "X") for c in lockers.managers()[manager]["lock"]]
    words = command.split()
    if command in lock or "lock" in words[:3] or "pip-compile" in command or "pip-tools" in words:
        return "lock"
    return "install"


def measure(
    template: Path, manager: str, work: Path, label: str, front: str | None
) -> dict[str, float]:
    answers = complete({"dependency_manager": manager})
    python = answers["python_version"]
    project = work / f"{manager}-{label}-{time.monotonic_ns()}"
    data = work / f"{project.name}.json"
    data.write_text(json.dumps(answers), encoding="utf-8")
    times = {"render": 0.0, "lock": 0.0, "install": 0.0, "test": 0.0}
    start = time.perf_counter()
    check([*COPIER, "copy", "--quiet", "--defaults", "--data-file", str(data), str(template),
           str(project)])  # fmt: skip
    times["render"] = time.perf_counter() - start
    if manager in lockers.TEST_ONLY:
        pyproject = project / "pyproject.toml"
        pyproject.write_text(
            pyproject.read_text(encoding="utf-8") + lockers.TEST_ONLY[manager], encoding="utf-8"
        )
    commands = [c for c in green_block(project) if not c.startswith("pyenv install")]
    extra_env = {"PIP_INDEX_URL": front} if front and manager == "pip" else None
    for position, command in enumerate(commands):
        began = time.perf_counter()
        lockers.shell(command, project, python, timeout=1800, extra_env=extra_env)
        times[phase(command, manager, position, commands)] += time.perf_counter() - began
    shutil.rmtree(project, ignore_errors=True)
    return times


def table(results: dict[str, dict[str, dict[str, float]]], labels: list[str]) -> str:
    """Markdown: per manager and template, the median total and its parts, ratios."""
    uv = {label: results["uv"][label]["total"] for label in labels if "uv" in results}
    lines = [
        "| Manager | Template | Render to green | Lock | Install | Test | / uv's | / before | Target | Met |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for manager, by_label in results.items():
        for label in labels:
            row = by_label[label]
            to_uv = f"{row['total'] / uv[label]:.2f}" if uv else ""
            before = ""
            target = met = ""
            if len(labels) > 1 and label == labels[0]:
                ratio = row["total"] / by_label[labels[1]]["total"]
                before = f"{ratio:.2f}"
                if manager != "uv":
                    target = f"at most {TARGET}"
                    met = "yes" if float(f"{ratio:.2f}") <= TARGET else "**no**"
            lines.append(
                f"| {manager} | {label} | {row['total']:.1f} s | {row['lock']:.1f} s "
                f"| {row['install']:.1f} s | {row['test']:.1f} s | {to_uv} | {before} | {target} | {met} |"
            )
    return "\n".join(lines)


def write_docs(text: str, command: str, load: str) -> None:
    page = DOCS_PAGE.read_text(encoding="utf-8")
    before, rest = page.split(BEGIN, 1)
    after = rest.split(END, 1)[1]
    block = (
        f"{BEGIN}\nLatest run ({time.strftime('%Y-%m-%d')}, `{command}`, "
        f"{os.cpu_count()} cores, load average {load}, Python {sys.version.split()[0]}):"
        f"\n\n{text}\n\n{END}"
    )
    DOCS_PAGE.write_text(before + block + after, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("managers", nargs="*", default=lockers.PYPI_MANAGERS)
    parser.add_argument("--baseline", help="git ref of the template to measure alongside")
    parser.add_argument("--repeat", type=int, default=3, help="timed rounds (median)")
    parser.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument(
        "--direct", action="store_true", help="pip without the pypi.org-shaped JSON front"
    )
    options = parser.parse_args()
    managers = ["uv", *(m for m in options.managers if m != "uv")]
    with contextlib.ExitStack() as stack:
        front = None if options.direct else stack.enter_context(pypi_json.serving())
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="groundwork-green-")))
        templates = {"this tree": tree(work / "template-tree")}
        if options.baseline:
            short = check(["git", "rev-parse", "--short", options.baseline], cwd=ROOT).strip()
            templates[short] = archive(options.baseline, work / f"template-{short}")
        labels = list(templates)
        samples: dict[str, dict[str, list[dict[str, float]]]] = {
            m: {label: [] for label in labels} for m in managers
        }
        loads = []
        for round_ in range(options.repeat + 1):  # round 0 warms the caches, untimed
            for manager in managers:
                for label, template in templates.items():
                    loads.append(os.getloadavg()[0])
                    times = measure(template, manager, work, label.replace(" ", "-"), front)
                    total = sum(times.values())
                    print(
                        f"round {round_} {manager:<7} {label:<10} {total:6.1f} s "
                        + " ".join(f"{k} {v:.1f}" for k, v in times.items()),
                        file=sys.stderr,
                        flush=True,
                    )
                    if round_:
                        samples[manager][label].append({**times, "total": total})
    results = {
        manager: {
            label: {
                key: statistics.median(sample[key] for sample in by_label[label])
                for key in ("render", "lock", "install", "test", "total")
            }
            for label in labels
        }
        for manager, by_label in samples.items()
    }
    text = table(results, labels)
    load = f"{min(loads):.1f}-{max(loads):.1f}"
    print(f"load average during the run: {load}")
    print(text)
    if options.write_docs:
        args = " ".join(arg for arg in sys.argv[1:] if arg != "--write-docs")
        write_docs(text, f"python benchmarks/green.py {args}".strip(), load)


if __name__ == "__main__":
    main()
