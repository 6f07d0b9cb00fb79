"""Docker tier: every PyPI manager x project kind image builds, runs and rebuilds lean.

For each combination: render, lock with the manager (tests/lockers.py), build the image,
run its entry point and compare the output with the same code run on the host, check the
container user, then change one source file and rebuild: the dependency step must come
from the cache and the project step must not, and the new image must differ from the old
one only by its top layer, the project's, of at most 1 MB: every other layer, the
dependencies' included, keeps its digest. Images get unique tags and are removed; the
build cache is kept so that reruns are fast. (Build times are compared in benchmarks/,
never here.)

The docker client and the build command come from tests/images.py, which also decides,
once for every test that builds an image, whether images can be built here (the
`docker_ready` fixture).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import time
import urllib.request
import uuid
from typing import TYPE_CHECKING, Any

import pytest
from test_dockerfiles import table
from test_model_service import expected_predictions

from helpers import BIN, OFFLINE_SKIP, params, run
from images import build_cli, docker_cli
from lockers import PYPI_MANAGERS, lock, managers, python_path
from matrix import Answers, choices, combo_id, complete, questionnaire

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.docker

KINDS = choices("project_kind")
COMBOS = [
    complete({"dependency_manager": manager, "project_kind": kind})
    for manager in PYPI_MANAGERS
    for kind in KINDS
]
CONDA_FAMILY = [m for m in choices("dependency_manager") if m not in PYPI_MANAGERS]

# The most a source-only change may add to an image: the project's own files.
PROJECT_LAYER_MAX_BYTES = 1_000_000

# Free text that must reach the image's labels unchanged (one combination carries it).
HOSTILE = 'Quotes " and \\ backslash, \\$HOME and ${PATH:-x}, `ticks`, émoji 🚀'


def docker(*args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return run([*docker_cli(), *args], timeout=timeout)


class Build:
    """One `docker build` with plain progress, parsed into steps and their cache state."""

    STEP = re.compile(r"^#(\d+) \[([\w.-]+) (\d+)/(\d+)\] (.*)$", re.MULTILINE)

    def __init__(self, project: Path, tag: str) -> None:
        result = run(
            [*build_cli(), "--progress=plain", "--tag", tag, str(project)],
            env={"DOCKER_BUILDKIT": "1", "BUILDKIT_PROGRESS": "plain"},
            timeout=1200,
        )
        self.log = result.stdout + result.stderr
        self.cached = set(re.findall(r"^#(\d+) CACHED$", self.log, re.MULTILINE))
        self.steps: dict[tuple[str, int], tuple[str, str]] = {}
        for vertex, stage, index, _total, text in self.STEP.findall(self.log):
            self.steps[(stage, int(index))] = (vertex, text)

    def step(self, stage: str, index: int) -> tuple[str, str]:
        assert (stage, index) in self.steps, f"no step {stage} {index} in:\n{self.log[-4000:]}"
        return self.steps[(stage, index)]

    def source_copy(self) -> int:
        """Index of the project stage's `COPY . .`, the first step a source change redoes."""
        found = [
            i
            for (stage, i), (_, text) in self.steps.items()
            if stage == "project" and text == "COPY . ."
        ]
        assert len(found) == 1, f"one COPY . . in the project stage:\n{self.log[-4000:]}"
        return found[0]

    def last_step(self, stage: str) -> int:
        found = [i for (name, i) in self.steps if name == stage]
        assert found, f"no step of stage {stage} in:\n{self.log[-4000:]}"
        return max(found)

    def is_cached(self, stage: str, index: int) -> bool:
        return self.step(stage, index)[0] in self.cached


def host_output(project: Path, python: str, code: str, interpreter: str | None = None) -> Any:
    """Run the project's own code on the host (pure Python: core needs no dependency; a
    pipeline's needs numpy and pyarrow, which this test environment has: `interpreter`)."""
    result = run(
        [interpreter or python_path(python), "-c", code],
        cwd=project,
        env={"PYTHONPATH": str(project / "src"), "PYTHONDONTWRITEBYTECODE": "1"},
    )
    return json.loads(result.stdout)


def check_entry_point(project: Path, full: Answers, tag: str) -> None:
    pkg = full["package_name"]
    python = full["python_version"]
    if full["project_kind"] == "service":
        check_service(project, full, tag)
        return
    image_output = json.loads(docker("run", "--rm", tag).stdout)
    pipeline = full["project_kind"] == "pipeline"
    host = host_output(
        project,
        python,
        f"import runpy; runpy.run_module('{pkg}', run_name='__main__')",
        interpreter=sys.executable if pipeline else None,
    )
    if full["project_kind"] == "library":
        assert image_output["version"] == "0.1.0", "the installed distribution's version"
        host.pop("version")
        image_output.pop("version")
    if pipeline:  # `run` on the built-in sample; each run has an id of its own
        assert image_output.pop("run_id") != host.pop("run_id")
        for output in (image_output, host):  # today's: a run may straddle midnight
            output.pop("run_date")
        assert image_output["rows"] > 0
    assert image_output == host


def check_service(project: Path, full: Answers, tag: str) -> None:
    """The image serves the packaged sample model; with a bad MODEL_URI it exits, one line."""
    pkg = full["package_name"]
    sample = (project / "src" / pkg / "sample_model.json").read_bytes()
    artifact = json.loads(sample)
    container = docker("run", "--detach", "--publish", "127.0.0.1::8000", tag).stdout.strip()
    try:
        address = docker("port", container, "8000/tcp").stdout.split()[0]
        base = f"http://{address}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=5) as response:
                    assert json.loads(response.read()) == {
                        "status": "ok",
                        "model_version": artifact["version"],
                        "model_checksum": f"sha256:{hashlib.sha256(sample).hexdigest()}",
                    }
                    break
            except OSError:
                if time.monotonic() > deadline:
                    logs = subprocess.run(
                        [*docker_cli(), "logs", container],
                        capture_output=True,
                        text=True,
                        check=False,
                    )
                    pytest.fail(f"/health did not answer within 60 s:\n{logs.stdout}{logs.stderr}")
                time.sleep(0.5)
        request = urllib.request.Request(
            f"{base}/predict",
            data=json.dumps({"features": [1.0, 2.0, 3.0]}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.loads(response.read())
        (expected,) = expected_predictions(artifact, [[1.0, 2.0, 3.0]])
        assert answer == {"prediction": pytest.approx(expected), "model_version": "sample-1"}
        # The image's own HEALTHCHECK command succeeds inside the running container.
        health = json.loads(
            docker("inspect", "--format", "{{json .Config.Healthcheck.Test}}", tag).stdout
        )
        assert health[0] == "CMD"
        docker("exec", container, *health[1:])
    finally:
        subprocess.run(
            [*docker_cli(), "rm", "--force", container], capture_output=True, check=False
        )
    # A bad MODEL_URI: the container exits non-zero with one line, and serves nothing.
    failed = subprocess.run(
        [*docker_cli(), "run", "--rm", "--env", "MODEL_URI=/models/absent.json", tag],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert failed.returncode != 0
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1, failed.stderr
    assert lines[0].startswith(
        f"{pkg.replace('_', '-')} serve: error: model artifact /models/absent.json: cannot read it"
    ), lines


def check_non_root(tag: str) -> None:
    user = docker("inspect", "--format", "{{.Config.User}}", tag).stdout.strip()
    assert user.split(":")[0].isdigit(), f"numeric USER, got {user!r}"
    assert user.split(":")[0] != "0"
    uid = docker("run", "--rm", "--entrypoint", "id", tag, "-u").stdout.strip()
    assert uid == user.split(":")[0]


def image_layers(tag: str) -> list[str]:
    """The image's layers, bottom first, by digest of their content (diff IDs)."""
    layers: list[str] = json.loads(
        docker("image", "inspect", "--format", "{{json .RootFS.Layers}}", tag).stdout
    )
    return layers


def layer_sizes(tag: str) -> dict[str, int]:
    """Bytes of each layer of an image, by diff ID: its uncompressed tar in `docker save`.

    Read as a stream (the layers are not written anywhere); works for the classic and the
    OCI layout of `docker save`, whose manifest.json lists the layers bottom first.
    """
    process = subprocess.Popen([*docker_cli(), "save", tag], stdout=subprocess.PIPE)
    sizes: dict[str, int] = {}
    links: dict[str, str] = {}
    manifest: list[dict[str, Any]] = []
    assert process.stdout is not None
    with tarfile.open(fileobj=process.stdout, mode="r|") as archive:
        for member in archive:
            if member.name == "manifest.json":
                handle = archive.extractfile(member)
                assert handle is not None
                manifest = json.load(handle)
            elif member.issym():  # a layer shared with another entry (classic layout)
                links[member.name] = os.path.normpath(
                    os.path.join(os.path.dirname(member.name), member.linkname)
                )
            elif member.isfile():
                sizes[member.name] = member.size
    assert process.wait() == 0, f"docker save {tag} failed"
    paths = manifest[0]["Layers"]
    return {
        diff_id: sizes[links.get(path, path)]
        for diff_id, path in zip(image_layers(tag), paths, strict=True)
    }


def layer_history(tag: str) -> list[str]:
    """What created each non-empty layer of the image, top layer first."""
    rows = docker(
        "history", "--no-trunc", "--human=false", "--format", "{{.Size}}\t{{.CreatedBy}}", tag
    ).stdout.splitlines()
    return [created for size, _, created in (row.partition("\t") for row in rows) if int(size)]


def check_only_project_layer_changed(first: str, second: str, full: Answers) -> None:
    """After a source-only change, only the top layer (the project's files) is new."""
    before, after = image_layers(first), image_layers(second)
    new = [layer for layer in after if layer not in before]
    assert new == after[-1:], f"one new layer, on top: {len(new)} new of {len(after)}"
    assert after[:-1] == before[:-1], "a layer below the project's changed"
    env = table("docker", "docker_managers")[full["dependency_manager"]]["env"]
    created = layer_history(second)
    assert created[0].startswith("COPY /stage/ / "), f"top layer: {created[0]}"
    assert created[1].startswith(f"COPY {env} {env} "), (
        f"the environment's layer is right below it, unchanged: {created[1]}"
    )
    size = layer_sizes(second)[new[0]]
    assert size <= PROJECT_LAYER_MAX_BYTES, f"the new project layer has {size} bytes"


def image_name(full: Answers) -> str:
    """A repository name for the combination's test images (Docker allows [a-z0-9._-])."""
    return "groundwork-test/" + re.sub(r"[^a-z0-9._-]+", "-", combo_id(full).lower())


def build_run_rebuild(project: Path, full: Answers) -> None:
    """The whole story of one image; every tag it makes is removed at the end."""
    name = image_name(full)
    run_id = uuid.uuid4().hex[:10]
    first, second = f"{name}:{run_id}-a", f"{name}:{run_id}-b"
    try:
        Build(project, first)
        labels = json.loads(docker("inspect", "--format", "{{json .Config.Labels}}", first).stdout)
        assert labels["org.opencontainers.image.title"] == full["project_name"]
        description = full.get("description", questionnaire()["description"]["default"])
        assert labels["org.opencontainers.image.description"] == description
        check_non_root(first)
        check_entry_point(project, full, first)

        # A source-only change: the dependency stage is reused, the project is rebuilt.
        marker = f"SOURCE_MARK = {run_id!r}\n"
        core = project / "src" / full["package_name"] / "core.py"
        core.write_text(core.read_text(encoding="utf-8") + f"\n{marker}", encoding="utf-8")
        rebuild = Build(project, second)
        dependency_step = rebuild.last_step("deps")
        assert rebuild.step("deps", dependency_step)[1].startswith("RUN ")
        assert rebuild.is_cached("deps", dependency_step), (
            f"the dependency step ran again after a source-only change:\n{rebuild.log[-4000:]}"
        )
        copy_at = rebuild.source_copy()
        assert not rebuild.is_cached("project", copy_at), "the changed source was not copied"
        assert not rebuild.is_cached("project", copy_at + 1), "the project was not reinstalled"
        check_only_project_layer_changed(first, second, full)
        seen = docker(
            "run", "--rm", "--entrypoint", "python", second, "-c",
            f"from {full['package_name']}.core import SOURCE_MARK; print(SOURCE_MARK)",
        ).stdout.strip()  # fmt: skip
        assert seen == run_id, "the rebuilt image runs the changed source"
    finally:
        subprocess.run(
            [*docker_cli(), "rmi", "--force", first, second], capture_output=True, check=False
        )


@pytest.mark.parametrize("answers", params(COMBOS))
def test_image_builds_runs_and_reuses_dependencies(
    docker_ready, render_copy, answers: Answers
) -> None:
    full = complete(answers)
    if full["dependency_manager"] == "uv" and full["project_kind"] == "library":
        full = complete({**full, "description": HOSTILE})
    project = render_copy(full)
    lock(project, full["dependency_manager"], full["python_version"])
    build_run_rebuild(project, full)


# A PyPI manager with extra languages: apt toolchains in the builder, run-time tools in the
# image. (Rust is left out: Debian bookworm's rustc, in this machine's stand-in images, is
# older than PyO3 needs; languages.jinja assumes trixie-based python images.)
LANGUAGE_COMBOS = [complete({"dependency_manager": "uv", "extra_languages": ["cpp", "node"]})]


@pytest.mark.parametrize("answers", params(LANGUAGE_COMBOS))
def test_image_with_extra_languages(docker_ready, render_copy, answers: Answers) -> None:
    full = complete(answers)
    project = render_copy(full)
    lock(project, full["dependency_manager"], full["python_version"])
    languages = table("languages", "languages")
    tag = f"{image_name(full)}:{uuid.uuid4().hex[:10]}"
    try:
        Build(project, tag)
        check_non_root(tag)
        output = json.loads(docker("run", "--rm", tag).stdout)
        assert output["package"] == full["package_name"]
        assert isinstance(output["prediction"], float)
        if {"cpp", "rust"} & set(full["extra_languages"]):
            docker("run", "--rm", tag, "python", "-c", f"import {full['package_name']}._native")
        for name in full["extra_languages"]:
            if languages[name]["apt_runtime"]:
                docker("run", "--rm", "--entrypoint", "sh", tag, "-c", languages[name]["check"])
            for package in languages[name]["apt_build"]:
                command = {"g++": "g++", "cmake": "cmake", "ninja-build": "ninja"}.get(package)
                if command:
                    absent = subprocess.run(
                        [*docker_cli(), "run", "--rm", "--entrypoint", "sh", tag, "-c",
                         f"command -v {command}"],
                        capture_output=True, text=True, check=False,
                    )  # fmt: skip
                    assert absent.returncode != 0, f"{command} is in the runtime image"
    finally:
        subprocess.run([*docker_cli(), "rmi", "--force", tag], capture_output=True, check=False)


def image_available(image: str) -> bool:
    """Whether the engine has the image or can pull it."""
    for args in (["image", "inspect", image], ["pull", "--quiet", image]):
        try:
            result = subprocess.run(
                [*docker_cli(), *args], capture_output=True, text=True, timeout=180, check=False
            )
        except subprocess.TimeoutExpired:
            return False
        if result.returncode == 0:
            return True
    return False


@pytest.mark.parametrize(
    "answers",
    params(complete({"dependency_manager": m, "project_kind": "service"}) for m in CONDA_FAMILY),
)
def test_conda_family_image(docker_ready, render_copy, answers: Answers) -> None:
    """conda, conda-poetry and pixi images need their base image and conda channels."""
    full = complete(answers)
    project = render_copy(full)
    froms = re.findall(
        r"^FROM (\S+) AS (\S+)$",
        (project / "Dockerfile").read_text(encoding="utf-8"),
        re.MULTILINE,
    )
    stages = {stage for _image, stage in froms}
    images = [image for image, _stage in froms if image not in stages]
    missing = [image for image in images if not image_available(image)]
    if missing:
        pytest.skip(f"{OFFLINE_SKIP} cannot pull {', '.join(missing)} (no registry reachable here)")
    lockfile = managers()[full["dependency_manager"]]["lockfile"]
    table = managers()[full["dependency_manager"]]
    for command in table["lock"]:
        tool = command.split()[0]
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed: it writes {lockfile} for this image")
        run(["bash", "-c", command], cwd=project, timeout=1200)
    build_run_rebuild(project, full)


# The dev container: for each PyPI manager, the dev stage builds (on the same deps stage as
# the image), and a container of it, with the project mounted where VS Code mounts it,
# runs devcontainer.json's postCreateCommand, then the README's checks (`nox`: lint,
# typecheck, test) and the docs build, as its non-root user.
DEV_COMBOS = [complete({"dependency_manager": manager}) for manager in PYPI_MANAGERS]


@pytest.mark.parametrize("answers", params(DEV_COMBOS))
def test_dev_container_runs_the_tests(
    docker_ready, render_copy, answers: Answers, tmp_path: Path
) -> None:
    full = complete(answers)
    project = render_copy(full)
    lock(project, full["dependency_manager"], full["python_version"])
    config = json.loads((project / ".devcontainer" / "devcontainer.json").read_text("utf-8"))
    assert config["build"] == {"dockerfile": "../Dockerfile", "context": "..", "target": "dev"}
    tag = f"{image_name(full)}-dev:{uuid.uuid4().hex[:10]}"
    # The workspace as the container sees it: the user's checkout (no host environment),
    # owned by the container's user, as VS Code's updateRemoteUserUID arranges on Linux.
    workspace = tmp_path / "workspace"
    shutil.copytree(project, workspace, ignore=shutil.ignore_patterns(".venv"))
    run(["chown", "-R", "1000:1000", str(workspace)])
    mount = f"/workspaces/{project.name}"
    script = f"set -e; id -u; {config['postCreateCommand']}; nox; nox -s docs; pytest -q"
    try:
        run(
            [*build_cli(), "--progress=plain", "--target", "dev", "--tag", tag, str(project)],
            env={"DOCKER_BUILDKIT": "1", "BUILDKIT_PROGRESS": "plain"},
            timeout=1200,
        )
        user = docker("inspect", "--format", "{{.Config.User}}", tag).stdout.strip()
        assert user == "1000:1000", user
        result = docker(
            "run", "--rm", "--volume", f"{workspace}:{mount}", "--workdir", mount,
            tag, "bash", "-c", script, timeout=900,
        )  # fmt: skip
        output = result.stdout + result.stderr
        assert result.stdout.splitlines()[0] == "1000", "not root"
        for task in ("lint", "typecheck", "test"):
            assert f"* {task}: success" in output, output[-3000:]
        assert "Session docs was successful" in output, output[-3000:]
        assert re.search(r"^\d+ passed", result.stdout, re.MULTILINE), output[-3000:]
    finally:
        subprocess.run([*docker_cli(), "rmi", "--force", tag], capture_output=True, check=False)


@pytest.mark.parametrize("answers", params([complete({})]))
def test_image_task_builds_and_runs(
    docker_ready, render_copy, answers: Answers, tmp_path: Path
) -> None:
    """README's `nox -s image`: the task's own `docker build` and `docker run`. A `docker`
    first on PATH hands `build` to GROUNDWORK_DOCKER_BUILD (the offline helper here) and
    everything else to the docker client, as the other tests here do."""
    full = complete(answers)
    project = render_copy(full)
    lock(project, full["dependency_manager"], full["python_version"])
    shim = tmp_path / "bin" / "docker"
    shim.parent.mkdir()
    build = " ".join(shlex.quote(word) for word in build_cli())
    client = " ".join(shlex.quote(word) for word in docker_cli())
    shim.write_text(
        f'#!/bin/bash\nif [ "$1" = build ]; then shift; exec {build} "$@"; fi\nexec {client} "$@"\n',
        encoding="utf-8",
    )
    shim.chmod(0o755)
    image = full["package_name"].replace("_", "-")
    path = os.pathsep.join([str(shim.parent), str(BIN), os.environ["PATH"]])
    try:
        result = run(
            ["nox", "-s", "image"], cwd=project, env={"PATH": path, "DOCKER_BUILDKIT": "1"}
        )
        printed = [line for line in (result.stdout + result.stderr).splitlines() if line[:1] == "{"]
        assert len(printed) == 1, result.stdout + result.stderr
        output = json.loads(printed[0])
        assert output["package"] == full["package_name"]
        assert output["version"] == "0.1.0"
    finally:
        subprocess.run([*docker_cli(), "rmi", "--force", image], capture_output=True, check=False)
