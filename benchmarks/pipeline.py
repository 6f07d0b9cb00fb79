"""Benchmark a rendered pipeline against the floor of the libraries it uses, as ratios
measured side by side in one run.

Run from the repository root with the dev tools installed:

    python benchmarks/pipeline.py                 # prints the table
    python benchmarks/pipeline.py --write-docs    # and writes it into docs/benchmarks.md
    python benchmarks/pipeline.py --rows 2000000  # a smaller input (default 8,000,000)

It renders a pipeline (uv, Python 3.12), locks and installs it, writes its input (Parquet
files of one million rows of three float features each) and measures, each subject a
process of the project's environment, interleaved over rounds (the median counts):

- time: `run` over all rows, one shard, committed, against a whole-table floor: read
  every file into one table, score it with the same model in one numpy call, write the same
  columns the pipeline writes (source file, row, score, model version) in one Parquet
  write. The difference is the price of streaming, checking and committing.
- peak memory: the same `run` on one million and on all rows (the maximum resident set
  size of the process, from the kernel's accounting of it).
- shards: the rows' throughput of two shards at once against one shard, on a larger input
  (default 32,000,000 rows): a shard is there to split work that takes minutes, and on 8
  million rows, about a second of work, the processes' start-up (some 0.4 s each) would be
  measured instead. The shards' commit is one more process that starts after them (on
  AWS, a job of its own): its time does not grow with the data and is printed on its
  own, then with the shards, and so is the ratio on the 8-million-row input, without
  targets. A run of one shard commits itself, within its own process (a listing and two
  small writes), and its time includes that commit.

Every subject runs with one BLAS thread (`OPENBLAS_NUM_THREADS=1`), as the image sets it.

Numbers are never asserted in tests: they depend on the machine and on its load, which the
table records.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import lockers
from matrix import complete

DOCS_PAGE = ROOT / "docs" / "benchmarks.md"
BEGIN = "<!-- pipeline table: written by benchmarks/pipeline.py --write-docs -->"
END = "<!-- end of pipeline table -->"
ANSWERS = complete(
    {"project_kind": "pipeline", "dependency_manager": "uv", "python_version": "3.12",
     "deploy_target": "none"}
)  # fmt: skip
FILE_ROWS = 1_000_000
RUN_DATE = "2026-01-31"

# The floor: what a whole-table script with the same libraries does, in one go.
FLOOR = """
import sys
import numpy as np, pyarrow as pa, pyarrow.dataset as ds, pyarrow.parquet as pq
from demo_project.model import load_model
model = load_model()
table = ds.dataset(sys.argv[2:], format="parquet").to_table()
features = np.column_stack([column.to_numpy() for column in table.columns])
scores = model.predict(features)
count = len(scores)
out = pa.table({
    "source_file": pa.repeat(pa.scalar(sys.argv[2]), count),
    "source_row": pa.array(np.arange(count, dtype=np.int64)),
    "score": pa.array(scores),
    "model_version": pa.repeat(pa.scalar(model.version), count),
})
pq.write_table(out, sys.argv[1])
"""


# As the image runs them (its ENV): one BLAS thread per process, for every subject.
ENVIRONMENT = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def measured(args: list[str], cwd: Path) -> tuple[float, int]:
    """Wall time and peak resident memory (bytes) of one process."""
    start = time.perf_counter()
    process = subprocess.Popen(
        args, cwd=cwd, env=ENVIRONMENT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        assert process.stderr is not None
        sys.exit(f"failed: {' '.join(args)}\n{process.stderr.read().decode()[-3000:]}")
    return elapsed, usage.ru_maxrss * 1024


def together(commands: list[list[str]], cwd: Path) -> float:
    """Wall time of processes started at once, until the last one ends."""
    start = time.perf_counter()
    processes = [
        subprocess.Popen(c, cwd=cwd, env=ENVIRONMENT, stdout=subprocess.DEVNULL) for c in commands
    ]
    if any(process.wait() for process in processes):
        sys.exit(f"failed: {commands}")
    return time.perf_counter() - start


def shards(run: list[str], output: Path, count: int, cwd: Path) -> tuple[float, float]:
    """Wall times of a run of `count` shards at once, and of its commit after them when
    there are several (a run of one shard commits itself: 0.0)."""
    shards_time = together(
        [[*run, "--output", str(output), "--shard", f"{i}/{count}", "--run-id", "r"]
         for i in range(count)],
        cwd,
    )  # fmt: skip
    if count == 1:
        return shards_time, 0.0
    commit = [run[0], "commit", "--output", str(output), "--run-date", RUN_DATE, "--run-id", "r"]
    return shards_time, together([commit], cwd)


def prepare(workdir: Path) -> Path:
    """Render, lock and install the pipeline; return the project."""
    template = workdir / "template"
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split("\0")  # fmt: skip
    for name in filter(None, listed):
        if (ROOT / name).is_file() and not name.startswith(("examples/", "tests/", "docs/")):
            (template / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, template / name)
    project = workdir / "project"
    data = [arg for key, value in ANSWERS.items() for arg in ("--data", f"{key}={value}")]
    subprocess.run(
        [sys.executable, "-m", "copier", "copy", "--quiet", "--defaults", *data,
         str(template), str(project)],
        check=True, capture_output=True,
    )  # fmt: skip
    lockers.lock(project, "uv", ANSWERS["python_version"])
    lockers.install(project, "uv", ANSWERS["python_version"])
    # Bytecode now, as the image compiles it (UV_COMPILE_BYTECODE): every subject is a new
    # process, which would otherwise compile its imports each time where bytecode is not
    # written (PYTHONDONTWRITEBYTECODE, common on CI machines).
    subprocess.run(
        [str(project / ".venv" / "bin" / "python"), "-m", "compileall", "-q", "-j", "0",
         str(project / ".venv"), str(project / "src")],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return project


def write_input(project: Path, folder: Path, rows: int) -> None:
    """Parquet files of FILE_ROWS rows, three float features each."""
    code = (
        "import sys, numpy as np, pyarrow as pa, pyarrow.parquet as pq\n"
        "rng = np.random.default_rng(int(sys.argv[2]))\n"
        f"n = {FILE_ROWS}\n"
        "pq.write_table(pa.table({c: rng.normal(size=n) for c in 'abc'}), sys.argv[1])\n"
    )
    folder.mkdir(parents=True)
    python = str(project / ".venv" / "bin" / "python")
    for number in range(rows // FILE_ROWS):
        path = folder / f"part-{number:03d}.parquet"
        subprocess.run([python, "-c", code, str(path), str(number)], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=8_000_000, help="rows of the large input")
    parser.add_argument(
        "--shard-rows", type=int, default=32_000_000, help="rows of the shards' input"
    )
    parser.add_argument("--repeat", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="pipeline-bench-") as temporary:
        workdir = Path(temporary)
        project = prepare(workdir)
        small, large, sharded = workdir / "small", workdir / "large", workdir / "sharded"
        write_input(project, small, FILE_ROWS)
        write_input(project, large, args.rows)
        write_input(project, sharded, args.shard_rows)
        cli = str(project / ".venv" / "bin" / "demo-project")
        python = str(project / ".venv" / "bin" / "python")
        floor = [python, "-c", FLOOR]
        files = sorted(str(path) for path in large.iterdir())
        times: dict[str, list[float]] = {
            "pipeline": [], "floor": [], "one": [], "two": [], "commit": [], "two-large": []
        }  # fmt: skip
        memory: dict[str, list[int]] = {"small": [], "large": []}
        for round_ in range(args.repeat):
            out = workdir / f"out-{round_}"
            run = [cli, "run", "--input", str(large), "--run-date", RUN_DATE]
            elapsed, peak = measured([*run, "--output", str(out / "pipeline")], project)
            times["pipeline"].append(elapsed)
            memory["large"].append(peak)
            times["floor"].append(
                measured([*floor, str(workdir / "floor.parquet"), *files], project)[0]
            )
            small_run = [cli, "run", "--input", str(small), "--output", str(out / "small")]
            memory["small"].append(measured(small_run, project)[1])
            # One shard of the large input is the `pipeline` subject above: a run of one
            # shard commits itself.
            shard_run = [cli, "run", "--input", str(sharded), "--run-date", RUN_DATE]
            times["one"].append(shards(shard_run, out / "one", 1, project)[0])
            two, commit = shards(shard_run, out / "two", 2, project)
            times["two"].append(two)
            times["commit"].append(commit)
            times["two-large"].append(sum(shards(run, out / "two-large", 2, project)))
            shutil.rmtree(out)
    load_after = os.getloadavg()[0]
    median = {key: statistics.median(values) for key, values in times.items()}
    peaks = {key: statistics.median(values) for key, values in memory.items()}
    with_commit = statistics.median(map(sum, zip(times["two"], times["commit"], strict=True)))
    rows, shard_rows = args.rows, args.shard_rows
    changed = [
        f" --{name.replace('_', '-')} {getattr(args, name)}"
        for name in ("rows", "shard_rows", "repeat")
        if getattr(args, name) != parser.get_default(name)
    ]
    table = [
        ("time: pipeline run / whole-table numpy floor", median["pipeline"] / median["floor"],
         f"{median['pipeline']:.2f} s / {median['floor']:.2f} s", "at most 1.5", 1.5, "max"),
        (f"peak memory: {rows / 1e6:g} M rows / 1 M rows", peaks["large"] / peaks["small"],
         f"{peaks['large'] / 2**20:.0f} MB / {peaks['small'] / 2**20:.0f} MB", "at most 1.3",
         1.3, "max"),
        (f"throughput: 2 shards at once / 1 shard, {shard_rows / 1e6:g} M rows",
         median["one"] / median["two"], f"{median['one']:.2f} s / {median['two']:.2f} s",
         "at least 1.6", 1.6, "min"),
        (f"the same, then the commit (one more process, {median['commit']:.2f} s)",
         median["one"] / with_commit,
         f"{median['one']:.2f} s / {with_commit:.2f} s", "", 0.0, "info"),
        (f"the same, {rows / 1e6:g} M rows, then the commit",
         median["pipeline"] / median["two-large"],
         f"{median['pipeline']:.2f} s / {median['two-large']:.2f} s", "", 0.0, "info"),
    ]  # fmt: skip
    heading = (
        f"Latest run ({dt.date.today().isoformat()}, `python benchmarks/pipeline.py"
        f"{''.join(changed)}`, {os.cpu_count()} cores, load "
        f"average {load_before:.1f} before and {load_after:.1f} after, Python "
        f"{platform.python_version()} for the tools, the pipeline on {ANSWERS['python_version']}, "
        f"{rows:,} rows (the shards: {shard_rows:,}) in files of {FILE_ROWS:,}, median of "
        f"{args.repeat} rounds):"
    )
    lines = [
        heading,
        "",
        "| Measure | Ratio | Measured | Target | Met |",
        "| --- | ---: | ---: | ---: | :---: |",
    ]
    for name, ratio, what, target, bound, kind in table:
        met = ratio <= bound if kind == "max" else ratio >= bound
        verdict = "" if kind == "info" else "yes" if met else "**no**"
        lines.append(f"| {name} | {ratio:.2f} | {what} | {target} | {verdict} |")
    text = "\n".join(lines)
    print(text)
    if args.write_docs:
        page = DOCS_PAGE.read_text(encoding="utf-8")
        before, _, rest = page.partition(BEGIN)
        _, _, after = rest.partition(END)
        DOCS_PAGE.write_text(f"{before}{BEGIN}\n{text}\n\n{END}{after}", encoding="utf-8")


if __name__ == "__main__":
    main()
