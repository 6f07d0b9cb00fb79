"""Benchmark rendering: groundwork against Copier's own floor, update against copy, and
render-to-green-tests, as ratios measured side by side in one run.

Run from the repository root with the dev tools installed:

    python benchmarks/render.py                 # prints the table
    python benchmarks/render.py --write-docs    # and writes it into docs/benchmarks.md
    python benchmarks/render.py --docker        # adds benchmarks/docker_build.py's figures
    python benchmarks/render.py --repeat 9      # more rounds (default 5)

What is measured (wall time of the `copier` command a user runs, Python start-up included;
the median of interleaved rounds, so a busy machine slows every subject alike):

- floor: a one-file Copier template (one question, one templated file): what any
  Copier render costs on this machine. Copier also has a cost per rendered file (it asks
  git about each one), so a second floor has as many one-line files as the default
  render: the difference to it is what the template's own Jinja costs.
- default: groundwork with `--defaults` (uv library); heaviest: the combination with the
  most files and includes (conda + Poetry service with R, C++ and Node.js, deploying to AWS).
  Templates are rendered from plain copies of their files, so no git clone is timed.
- update: `copier update` of a default project from one template commit to the next
  (one line changed in the README template), against `copier copy` of the same commit;
  both from a git repository, as updates need one.
- render to green: copy, lock, install and run the generated tests of the default (uv)
  project, with uv's cache warm (one untimed round first), once.

Numbers are never asserted in tests: they depend on the machine.
"""

from __future__ import annotations

import argparse
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

from matrix import complete

COPIER = [sys.executable, "-m", "copier"]
DOCS_PAGE = ROOT / "docs" / "benchmarks.md"
BEGIN = "<!-- benchmark table: written by benchmarks/render.py --write-docs -->"
END = "<!-- end of benchmark table -->"

HEAVIEST = {
    "project_kind": "service",
    "extra_languages": ["r", "cpp", "node"],
    "dependency_manager": "conda-poetry",
    "deploy_target": "aws",
}


def check(args: list[str], cwd: Path | None = None, **env: str) -> None:
    result = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, check=False, env={**os.environ, **env}
    )
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(args)}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


def timed(args: list[str], cwd: Path | None = None, **env: str) -> float:
    start = time.perf_counter()
    check(args, cwd, **env)
    return time.perf_counter() - start


def snapshot(destination: Path) -> Path:
    """The template's files as git sees them (tracked and new, ignored left out)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def floor_template(destination: Path, files: int = 1) -> Path:
    """One question and `files` one-line templated files (README.md, then doc-N.md)."""
    destination.mkdir(parents=True)
    (destination / "copier.yml").write_text(
        "project_name:\n  type: str\n  default: demo\n", encoding="utf-8"
    )
    for number in range(files):
        name = "README.md.jinja" if number == 0 else f"docs/doc-{number}.md.jinja"
        (destination / name).parent.mkdir(exist_ok=True)
        (destination / name).write_text("# {{ project_name }}\n", encoding="utf-8")
    return destination


def file_count(project: Path) -> int:
    return sum(1 for path in project.rglob("*") if path.is_file())


def git(path: Path, *args: str) -> None:
    check(["git", "-c", "user.name=bench", "-c", "user.email=bench@invalid", *args], cwd=path)


def copy_args(
    template: Path, destination: Path, answers: dict[str, Any] | None = None
) -> list[str]:
    args = [*COPIER, "copy", "--quiet", "--defaults", "--overwrite"]
    for key, value in (answers or {}).items():
        args += ["--data", f"{key}={value}" if isinstance(value, str) else f"{key}={value!r}"]
    return [*args, str(template), str(destination)]


def measure_renders(work: Path, repeat: int) -> dict[str, float]:
    floor = floor_template(work / "floor")
    template = snapshot(work / "groundwork")
    check(copy_args(template, work / "count"))
    files = file_count(work / "count")
    floor_n = floor_template(work / "floor-n", files)
    heavy = {k: v if isinstance(v, str) else str(v).replace("'", '"') for k, v in HEAVIEST.items()}
    subjects = {
        "floor": lambda out: copy_args(floor, out),
        "floor_n": lambda out: copy_args(floor_n, out),
        "default": lambda out: copy_args(template, out),
        "heaviest": lambda out: copy_args(template, out, heavy),
    }
    times: dict[str, list[float]] = {name: [] for name in subjects}
    for round_ in range(repeat + 1):
        for name, args in subjects.items():
            out = work / f"out-{name}-{round_}"
            seconds = timed(args(out))
            if round_:  # the first round warms file caches and byte-code
                times[name].append(seconds)
            shutil.rmtree(out)
    medians = {name: statistics.median(values) for name, values in times.items()}
    return {**medians, "files": files}


def measure_update(work: Path, repeat: int) -> dict[str, float]:
    repo = snapshot(work / "groundwork-git")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    git(repo, "tag", "v1")
    readme = repo / "template" / "README.md.jinja"
    readme.write_text(readme.read_text(encoding="utf-8") + "\nBenchmark line.\n", encoding="utf-8")
    git(repo, "commit", "-qam", "v2")
    git(repo, "tag", "v2")
    project = work / "project"
    check([*COPIER, "copy", "--quiet", "--defaults", "--vcs-ref=v1", str(repo), str(project)])
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "start")
    updates, copies = [], []
    for round_ in range(repeat + 1):
        seconds = timed(
            [*COPIER, "update", "--quiet", "--defaults", "--vcs-ref=v2", str(project)], cwd=project
        )
        git(project, "reset", "-q", "--hard")
        git(project, "clean", "-qfdx")
        out = work / f"copy-{round_}"
        copy_seconds = timed(
            [*COPIER, "copy", "--quiet", "--defaults", "--vcs-ref=v2", str(repo), str(out)]
        )
        shutil.rmtree(out)
        if round_:
            updates.append(seconds)
            copies.append(copy_seconds)
    return {"update": statistics.median(updates), "copy_git": statistics.median(copies)}


def measure_green(work: Path) -> float:
    """Copy, lock, install and test the default project (uv), uv's cache warm."""
    from lockers import env_run, install, lock

    template = snapshot(work / "groundwork-green")
    python = complete({})["python_version"]
    seconds = 0.0
    for round_ in range(2):  # the first round warms uv's cache
        project = work / f"green-{round_}"
        start = time.perf_counter()
        check(copy_args(template, project))
        lock(project, "uv", python)
        install(project, "uv", python)
        env_run(project, "uv", ["pytest", "-q"])
        seconds = time.perf_counter() - start
    return seconds


def measure_docker(work: Path) -> dict[str, Any] | None:
    """benchmarks/docker_build.py's figures for the default combination, if Docker runs."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import docker_build
    except ImportError as error:
        print(f"docker figures skipped: {error}", file=sys.stderr)
        return None
    docker = docker_build.docker_cli()
    if subprocess.run([*docker, "info"], capture_output=True, check=False).returncode != 0:
        print("docker figures skipped: no Docker engine answers", file=sys.stderr)
        return None
    return docker_build.measure("uv:library+pandas", work, "HEAD")


def table(results: dict[str, Any]) -> str:
    floor = results["floor"]
    rows = [
        ("default render (uv library) / one-file floor", results["default"] / floor,
         f"{results['default']:.2f} s / {floor:.2f} s", "1.5"),
        ("heaviest render / one-file floor", results["heaviest"] / floor,
         f"{results['heaviest']:.2f} s / {floor:.2f} s", "2.0"),
        (f"default render / floor with the same {results['files']} files (no Jinja logic)",
         results["default"] / results["floor_n"],
         f"{results['default']:.2f} s / {results['floor_n']:.2f} s", ""),
        ("copier update / copier copy (default, from git)",
         results["update"] / results["copy_git"],
         f"{results['update']:.2f} s / {results['copy_git']:.2f} s", ""),
    ]  # fmt: skip
    if "green" in results:
        rows.append(
            ("render to green tests (uv, warm cache) / default render",
             results["green"] / results["default"],
             f"{results['green']:.2f} s / {results['default']:.2f} s", ""),
        )  # fmt: skip
    docker = results.get("docker")
    if docker:
        rows.append(
            ("docker source-only rebuild / cold build (uv library + pandas)", docker["rebuild_ratio"],
             f"{docker['rebuild_s']:.1f} s / {docker['cold_s']:.1f} s", "0.25"),
        )  # fmt: skip
        rows.append(
            (f"docker new layers after a source-only change ({docker['new_layers']}) / 1 MB",
             docker["new_kb"] / 1e3, f"{docker['new_kb']:.0f} kB / 1 MB", "1.0"),
        )  # fmt: skip
        rows.append(
            ("docker image / base image (uv library + pandas)", docker["size_ratio"],
             f"{docker['image_mb']:.0f} MB / {docker['base_mb']:.0f} MB", ""),
        )  # fmt: skip
    lines = [
        "| Measure | Ratio | Measured | Target | Met |",
        "| --- | ---: | ---: | ---: | :---: |",
    ]
    for name, ratio, times, target in rows:
        # Judged on the ratio as shown, so the table never contradicts itself.
        met = ("yes" if float(f"{ratio:.2f}") <= float(target) else "**no**") if target else ""
        lines.append(
            f"| {name} | {ratio:.2f} | {times} | {target and 'at most ' + target} | {met} |"
        )
    return "\n".join(lines)


def write_docs(text: str, command: str) -> None:
    page = DOCS_PAGE.read_text(encoding="utf-8")
    before, rest = page.split(BEGIN, 1)
    after = rest.split(END, 1)[1]
    block = (
        f"{BEGIN}\nLatest run ({time.strftime('%Y-%m-%d')}, `{command}`, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, "
        f"Python {sys.version.split()[0]}):\n\n{text}\n\n{END}"
    )
    DOCS_PAGE.write_text(before + block + after, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds (median)")
    parser.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument("--docker", action="store_true", help="add the Docker build figures")
    parser.add_argument("--no-green", action="store_true", help="skip render-to-green-tests")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="groundwork-render-bench-") as tmp:
        work = Path(tmp)
        results: dict[str, Any] = measure_renders(work, options.repeat)
        results.update(measure_update(work, options.repeat))
        if not options.no_green:
            results["green"] = measure_green(work)
        if options.docker:
            results["docker"] = measure_docker(work)
    text = table(results)
    print(text)
    if options.write_docs:
        args = " ".join(arg for arg in sys.argv[1:] if arg != "--write-docs")
        write_docs(text, f"python benchmarks/render.py {args}".strip())


if __name__ == "__main__":
    main()
