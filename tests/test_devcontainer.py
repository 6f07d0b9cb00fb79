"""Fast tier: each render's dev container configuration is sound.

`.devcontainer/devcontainer.json` builds the Dockerfile's `dev` stage (tests/test_docker.py
builds it and runs the tests inside). Here, without Docker: the file is the JSON the Dev
Containers reference implementation reads (`devcontainer read-configuration`, from the
npm package @devcontainers/cli), its target is a stage of the Dockerfile, and its
command and interpreter are the dev stage's. No JSON schema of devcontainer.json is
available offline (the spec publishes it on GitHub only; check-jsonschema vendors none).
"""

from __future__ import annotations

import fcntl
import json
import re
import shutil
from pathlib import Path

import pytest

from helpers import include_module, params, run
from matrix import ROOT, Answers, choices, complete

CLI_VERSION = "0.89.0"
CLI_DIR = ROOT / ".cache" / "devcontainers"
RENDERS = params(
    complete({"dependency_manager": manager}) for manager in choices("dependency_manager")
)


@pytest.fixture(scope="session")
def devcontainer_cli() -> Path:
    """The Dev Containers CLI from npm, installed once (file-locked for xdist)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are not installed: the Dev Containers CLI cannot run")
    CLI_DIR.mkdir(parents=True, exist_ok=True)
    script = CLI_DIR / "node_modules" / "@devcontainers" / "cli" / "devcontainer.js"
    with (CLI_DIR / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        manifest = script.with_name("package.json")
        if not manifest.is_file() or json.loads(manifest.read_text())["version"] != CLI_VERSION:
            run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(CLI_DIR),
                 f"@devcontainers/cli@{CLI_VERSION}"], timeout=600)  # fmt: skip
    return script


@pytest.mark.parametrize("answers", RENDERS)
def test_devcontainer_builds_the_dev_stage(
    render, answers: Answers, devcontainer_cli: Path
) -> None:
    full = complete(answers)
    project = render(full)
    # read-configuration asks Docker for a running container of this folder first; `true`
    # answers "none", so the fast tier needs no Docker engine.
    result = run(["node", str(devcontainer_cli), "read-configuration", "--workspace-folder",
                  str(project), "--docker-path", shutil.which("true") or "/bin/true"])  # fmt: skip
    read = json.loads(result.stdout.strip().splitlines()[-1])
    config = read["configuration"]
    config.pop("configFilePath")
    folder = read["workspace"]["workspaceFolder"]
    assert folder == f"/workspaces/{project.name}"
    text = (project / ".devcontainer" / "devcontainer.json").read_text(encoding="utf-8")
    assert config == json.loads(text.replace("${containerWorkspaceFolder}", folder))
    assert config["name"] == full["project_name"]
    build = config["build"]
    assert (project / ".devcontainer" / build["dockerfile"]).resolve() == project / "Dockerfile"
    stages = re.findall(r"^FROM \S+ AS (\S+)$", (project / "Dockerfile").read_text(), re.MULTILINE)
    assert build["target"] == "dev"
    assert stages[-2:] == ["dev", "runtime"], "dev is built on request; the image stays last"
    assert config["remoteUser"] == "dev"
    docker = include_module("docker")
    env = docker.docker_managers[full["dependency_manager"]]["env"]
    interpreter = config["customizations"]["vscode"]["settings"]["python.defaultInterpreterPath"]
    if full["dependency_manager"] == "pixi":
        assert interpreter == f"{folder}/.pixi/envs/default/bin/python"
        assert config["postCreateCommand"] == "pixi install --locked"
    else:
        assert interpreter == f"{env}/bin/python"
        assert (
            "--editable ." in config["postCreateCommand"]
            or config["postCreateCommand"] == "uv sync --locked --all-groups"
        ), "the project, editable, beside every dependency group the image has"
