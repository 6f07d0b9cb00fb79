"""Building and running images from the tests and benchmarks: one client, one decision.

The docker client is `GROUNDWORK_DOCKER` (default `docker`); builds go through
`GROUNDWORK_DOCKER_BUILD` when it is set (.ci/run points it at the offline helper, which
uses local stand-ins for the base images), else `docker build` with BuildKit.

Whether images can be built is decided once per process, by `unavailable()`: an engine
must answer and the build command must build a probe Dockerfile with BuildKit. Every test
that builds an image asks it through the `docker_ready` fixture (tests/conftest.py), so
they all skip together, with the same reason, where a Docker without buildx (Debian's
docker.io, for instance) cannot build; strict mode turns that skip into a failure.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from functools import cache
from pathlib import Path


def docker_cli() -> list[str]:
    """The docker client's command line."""
    return shlex.split(os.environ.get("GROUNDWORK_DOCKER", "docker"))


def build_cli() -> list[str]:
    """The command line that builds an image (append options and the context)."""
    configured = os.environ.get("GROUNDWORK_DOCKER_BUILD")
    return shlex.split(configured) if configured else [*docker_cli(), "build"]


def build_env() -> dict[str, str]:
    """The environment a build runs in: this process's, with BuildKit on."""
    return {**os.environ, "DOCKER_BUILDKIT": "1"}


@cache
def unavailable() -> str | None:
    """Why images cannot be built here (None when they can): asked once per process."""
    try:
        result = subprocess.run(
            [*docker_cli(), "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"Docker unavailable: {error}"
    if result.returncode != 0:
        return f"Docker unavailable: {(result.stderr or result.stdout).strip()[-500:]}"
    # The engine answers; can this build command build with BuildKit (cache and bind mounts)?
    tag = "groundwork-test/probe:latest"
    with tempfile.TemporaryDirectory(prefix="docker-probe-") as probe:
        Path(probe, "Dockerfile").write_text(
            "FROM scratch\nLABEL groundwork.probe=1\n", encoding="utf-8"
        )
        try:
            result = subprocess.run(
                [*build_cli(), "--progress=plain", "--tag", tag, probe],
                env=build_env(),
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"Docker unavailable: `{' '.join(build_cli())}` did not run: {error}"
    subprocess.run([*docker_cli(), "rmi", tag], capture_output=True, check=False)
    if result.returncode != 0:
        return (
            f"Docker unavailable: `{' '.join(build_cli())}` cannot build with BuildKit "
            f"(set GROUNDWORK_DOCKER_BUILD): {(result.stderr or result.stdout).strip()[-500:]}"
        )
    return None
