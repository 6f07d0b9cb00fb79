"""Benchmark the rendered Dockerfiles: cold build, source-only rebuild, image size.

Run from the repository root (Docker running; the dev tools installed):

    python benchmarks/docker_build.py                 # uv default + the heavy combinations
    python benchmarks/docker_build.py uv:library poetry:service

Each combination is rendered, locked with its manager (tests/lockers.py), then built
side by side in one run:

- cold: `docker build --no-cache`, every layer rebuilt. BuildKit cache mounts (the
  managers' download caches) are not emptied, as on a developer machine or a CI runner
  that keeps its cache: this measures the build work, not the network.
- source-only rebuild: one line appended to a module under src/, then a normal build;
  reported as a fraction of the cold build.
- size: the final image against its bare base image.

The docker client is GROUNDWORK_DOCKER (default `docker`); builds go through
GROUNDWORK_DOCKER_BUILD when it is set (as in .ci/run), else `docker build`.
Images are removed at the end; the build cache stays.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

# The tests' own locking, so the numbers match what the docker tier builds.
from lockers import lock
from matrix import complete

# The template's default (uv library) and the heaviest Python-only combinations: a service
# (FastAPI + uvicorn) whose manager must itself be installed in the builder.
DEFAULT_COMBOS = ["uv:library", "uv:service", "poetry:service", "pipenv:service"]


def docker_cli() -> list[str]:
    return shlex.split(os.environ.get("GROUNDWORK_DOCKER", "docker"))


def build_cli() -> list[str]:
    configured = os.environ.get("GROUNDWORK_DOCKER_BUILD")
    return shlex.split(configured) if configured else [*docker_cli(), "build"]


def check(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(args)}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def timed_build(project: Path, tag: str, *extra: str) -> float:
    start = time.perf_counter()
    check(
        [*build_cli(), "--progress=plain", *extra, "--tag", tag, str(project)],
        env={**os.environ, "DOCKER_BUILDKIT": "1"},
    )
    return time.perf_counter() - start


def image_size(image: str) -> int:
    return int(check([*docker_cli(), "image", "inspect", "--format", "{{.Size}}", image]).stdout)


def render(answers: dict[str, object], destination: Path) -> None:
    check(
        [
            sys.executable, "-m", "copier", "copy", "--quiet", "--defaults", "--vcs-ref=HEAD",
            "--data-file", str(destination.with_suffix(".json")), str(ROOT), str(destination),
        ],
    )  # fmt: skip


def measure(combo: str, workdir: Path) -> dict[str, object]:
    manager, kind = combo.split(":")
    answers = complete({"dependency_manager": manager, "project_kind": kind})
    project = workdir / combo.replace(":", "-")
    project.with_suffix(".json").write_text(json.dumps(answers), encoding="utf-8")
    render(answers, project)
    lock(project, manager, answers["python_version"])
    base = f"python:{answers['python_version']}-slim"
    run_id = uuid.uuid4().hex[:8]
    # Two tags, both removed at the end: reusing one would leave the cold image dangling.
    tags = [f"groundwork-bench/{manager}-{kind}:{run_id}-{step}" for step in ("cold", "edit")]
    try:
        cold = timed_build(project, tags[0], "--no-cache")
        core = project / "src" / answers["package_name"] / "core.py"
        core.write_text(
            core.read_text(encoding="utf-8") + "\nBENCHMARK_EDIT = 1\n", encoding="utf-8"
        )
        rebuild = timed_build(project, tags[1])
        size, base_size = image_size(tags[1]), image_size(base)
    finally:
        subprocess.run([*docker_cli(), "rmi", "--force", *tags], capture_output=True, check=False)
    return {
        "combo": combo,
        "cold_s": cold,
        "rebuild_s": rebuild,
        "rebuild_ratio": rebuild / cold,
        "image_mb": size / 1e6,
        "base_mb": base_size / 1e6,
        "size_ratio": size / base_size,
    }


def main() -> None:
    combos = sys.argv[1:] or DEFAULT_COMBOS
    with tempfile.TemporaryDirectory(prefix="groundwork-bench-") as tmp:
        rows = [measure(combo, Path(tmp)) for combo in combos]
    reference = rows[0]
    header = (
        f"{'combination':<16} {'cold s':>7} {'rebuild s':>9} {'rebuild/cold':>12} "
        f"{'image MB':>9} {'base MB':>8} {'image/base':>10} {'cold/' + str(reference['combo']):>16}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['combo']:<16} {row['cold_s']:>7.1f} {row['rebuild_s']:>9.1f} "
            f"{row['rebuild_ratio']:>12.2f} {row['image_mb']:>9.1f} {row['base_mb']:>8.1f} "
            f"{row['size_ratio']:>10.2f} {row['cold_s'] / reference['cold_s']:>16.2f}"  # type: ignore[operator]
        )


if __name__ == "__main__":
    main()
