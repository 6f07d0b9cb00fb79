"""Benchmark the rendered Dockerfiles: cold build, source-only rebuild, new layers, size.

Run from the repository root (Docker running; the dev tools installed):

    python benchmarks/docker_build.py                 # the default combinations below
    python benchmarks/docker_build.py uv:library+pandas poetry:service
    python benchmarks/docker_build.py --baseline HEAD~3 uv:library+pandas

A combination is `manager:kind`, optionally `+package,...`: runtime dependencies added to
the rendered project before locking (the template's library has none, so `+pandas` shows
what a real environment costs). Each combination is rendered, locked with its manager
(tests/lockers.py), then built side by side in one run:

- cold: `docker build --no-cache`, every layer rebuilt. BuildKit cache mounts (the
  managers' download caches) are not emptied, as on a developer machine or a CI runner
  that keeps its cache: this measures the build work, not the network.
- source-only rebuild: one line appended to a module under src/, then a normal build;
  reported as a fraction of the cold build.
- new layers: the layers of the rebuilt image that the image built just before the
  change (same source, from the cache) does not have, and their bytes (uncompressed tar,
  as `docker save` writes them): what a push or pull after a code change moves.
- size: the final image against its bare base image.

--baseline REF renders the same combinations from the template at git REF too (e.g. the
commit before a Dockerfile change), so old and new designs are measured in the same run.

The docker client is GROUNDWORK_DOCKER (default `docker`); builds go through
GROUNDWORK_DOCKER_BUILD when it is set (as in .ci/run), else `docker build`.
Images are removed at the end; the build cache stays.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

# The tests' own locking and image inspection, so the numbers match what the docker tier
# builds and asserts.
from test_docker import image_layers, layer_sizes

from images import build_cli, docker_cli
from lockers import lock
from matrix import complete

# The template's default (uv library) bare and with pandas (a real environment: the case
# the separate project layer is for), and the heaviest Python-only combinations: services
# (FastAPI + uvicorn) whose manager must itself be installed in the deps stage.
DEFAULT_COMBOS = [
    "uv:library",
    "uv:library+pandas",
    "uv:service",
    "poetry:service",
    "pipenv:service",
]


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


def render(answers: dict[str, object], destination: Path, ref: str) -> None:
    data = destination.with_suffix(".json")
    data.write_text(json.dumps(answers), encoding="utf-8")
    check(
        [
            sys.executable, "-m", "copier", "copy", "--quiet", "--defaults", f"--vcs-ref={ref}",
            "--data-file", str(data), str(ROOT), str(destination),
        ],
    )  # fmt: skip


def add_dependencies(project: Path, packages: list[str]) -> None:
    """Add runtime dependencies where the manager reads them (Pipfile or pyproject.toml)."""
    if not packages:
        return
    pipfile = project / "Pipfile"
    if pipfile.exists():
        text = pipfile.read_text(encoding="utf-8")
        lines = "".join(f'{name} = "*"\n' for name in packages)
        pipfile.write_text(text.replace("[packages]\n", f"[packages]\n{lines}", 1))
        return
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    quoted = "".join(f'"{name}", ' for name in packages)
    changed = re.sub(
        r"^dependencies = \[", f"dependencies = [{quoted}", text, count=1, flags=re.MULTILINE
    )
    assert changed != text, "no [project] dependencies list in pyproject.toml"
    pyproject.write_text(changed, encoding="utf-8")


def measure(combo: str, workdir: Path, ref: str) -> dict[str, object]:
    spec, _, extra = combo.partition("+")
    manager, kind = spec.split(":")
    answers = complete({"dependency_manager": manager, "project_kind": kind})
    project = workdir / re.sub(r"[^\w.-]+", "-", f"{combo}@{ref}")
    render(answers, project, ref)
    add_dependencies(project, [name for name in extra.split(",") if name])
    lock(project, manager, answers["python_version"])
    base = f"python:{answers['python_version']}-slim"
    run_id = uuid.uuid4().hex[:8]
    # Unique tags, all removed at the end: reusing one would leave images dangling.
    tags = {
        step: f"groundwork-bench/{manager}-{kind}:{run_id}-{step}"
        for step in ("cold", "before", "after")
    }
    try:
        cold = timed_build(project, tags["cold"], "--no-cache")
        # The image as the cache gives it before the change: the reference for new layers
        # (a --no-cache build stores a second cache record that later builds may not pick).
        timed_build(project, tags["before"])
        core = project / "src" / answers["package_name"] / "core.py"
        core.write_text(
            core.read_text(encoding="utf-8") + "\nBENCHMARK_EDIT = 1\n", encoding="utf-8"
        )
        rebuild = timed_build(project, tags["after"])
        before, after = image_layers(tags["before"]), image_layers(tags["after"])
        new = [layer for layer in after if layer not in before]
        sizes = layer_sizes(tags["after"])
        size, base_size = image_size(tags["after"]), image_size(base)
    finally:
        subprocess.run(
            [*docker_cli(), "rmi", "--force", *tags.values()], capture_output=True, check=False
        )
    return {
        "combo": combo if ref == "HEAD" else f"{combo}@{ref}",
        "cold_s": cold,
        "rebuild_s": rebuild,
        "rebuild_ratio": rebuild / cold,
        "new_layers": f"{len(new)}/{len(after)}",
        "new_kb": sum(sizes[layer] for layer in new) / 1e3,
        "image_mb": size / 1e6,
        "base_mb": base_size / 1e6,
        "size_ratio": size / base_size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("combos", nargs="*", default=DEFAULT_COMBOS)
    parser.add_argument("--baseline", help="git ref of the template to measure alongside HEAD")
    args = parser.parse_args()
    refs = ["HEAD", args.baseline] if args.baseline else ["HEAD"]
    with tempfile.TemporaryDirectory(prefix="groundwork-bench-") as tmp:
        rows = [measure(combo, Path(tmp), ref) for combo in args.combos for ref in refs]
    reference = rows[0]
    width = max(16, *(len(str(row["combo"])) for row in rows))
    header = (
        f"{'combination':<{width}} {'cold s':>7} {'rebuild s':>9} {'rebuild/cold':>12} "
        f"{'new layers':>10} {'new kB':>9} {'image MB':>9} {'base MB':>8} {'image/base':>10} "
        f"{'cold/' + str(reference['combo']):>{width + 5}}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['combo']:<{width}} {row['cold_s']:>7.1f} {row['rebuild_s']:>9.1f} "
            f"{row['rebuild_ratio']:>12.2f} {row['new_layers']:>10} {row['new_kb']:>9.1f} "
            f"{row['image_mb']:>9.1f} {row['base_mb']:>8.1f} {row['size_ratio']:>10.2f} "
            f"{row['cold_s'] / reference['cold_s']:>{width + 5}.2f}"  # type: ignore[operator]
        )


if __name__ == "__main__":
    main()
