"""Fast tier: every rendered Dockerfile is hadolint-clean and keeps the image's promises.

The promises checked here without Docker: the Python base image follows python_version,
the dependencies come from the lockfile that includes/managers.jinja names, in a stage
without the source; the project is built on top and staged alone; the runtime stage is a
slim image that copies both as separate layers (the project's last) and runs as a numeric
non-root user, and the entry point matches the project kind. tests/test_docker.py builds and runs them.
"""

from __future__ import annotations

import json
import re
import tomllib
from functools import cache
from typing import TYPE_CHECKING, Any

import pytest

from helpers import include_module, params, run, tool
from matrix import Answers, all_static_renders, complete

if TYPE_CHECKING:
    from pathlib import Path

RENDERS = params(all_static_renders())

# Text that must survive a Dockerfile LABEL unchanged: quotes, backslashes, variables.
# (hadolint 2.15's lexer rejects a backslash right before a closing or escaped quote,
# `"x \\"`, which Docker itself reads correctly; so none is placed there.)
HOSTILE = 'Quotes " and \\ backslash, \\$HOME and ${PATH:-x}, `ticks`, émoji 🚀'


@cache
def table(include: str, name: str) -> Any:
    """A top-level `{% set %}` table of an include, read the way Copier reads it."""
    return getattr(include_module(include), name)


def managers() -> dict[str, Any]:
    return table("managers", "managers")


def docker_table() -> dict[str, Any]:
    return table("docker", "docker_managers")


class Instruction:
    """One Dockerfile instruction, continuation lines joined."""

    def __init__(self, keyword: str, args: str) -> None:
        self.keyword = keyword.upper()
        self.args = args

    def __repr__(self) -> str:
        return f"{self.keyword} {self.args}"


def instructions(dockerfile: Path) -> list[Instruction]:
    """The instructions of a Dockerfile (comments dropped, `\\` continuations joined)."""
    result: list[Instruction] = []
    pending = ""
    for raw in dockerfile.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        text = pending + line
        pending = ""
        keyword, _, args = text.partition(" ")
        result.append(Instruction(keyword, " ".join(args.split())))
    assert not pending, "the Dockerfile ends inside a continued instruction"
    return result


def stages(dockerfile: Path) -> dict[str, list[Instruction]]:
    """Instructions per stage name (`FROM image AS name`), in order."""
    result: dict[str, list[Instruction]] = {}
    current: list[Instruction] = []
    for instruction in instructions(dockerfile):
        if instruction.keyword == "FROM":
            match = re.fullmatch(r"(\S+) AS (\S+)", instruction.args, re.IGNORECASE)
            assert match, f"every stage is named: {instruction}"
            current = result.setdefault(match.group(2), [])
        current.append(instruction)
    return result


def base_image(stage: list[Instruction]) -> str:
    return stage[0].args.split()[0]


@pytest.mark.parametrize("answers", RENDERS)
def test_hadolint_finds_nothing(render, answers: Answers) -> None:
    project = render(answers)
    result = run([tool("hadolint"), "--no-color", "Dockerfile"], cwd=project)
    assert result.stdout.strip() == ""


@pytest.mark.parametrize("answers", RENDERS)
def test_image_design(render, answers: Answers) -> None:
    full = complete(answers)
    project = render(full)
    manager = managers()[full["dependency_manager"]]
    dockerfile = project / "Dockerfile"
    by_stage = stages(dockerfile)
    assert list(by_stage)[-4:] == ["deps", "project", "dev", "runtime"], list(by_stage)
    deps, project_stage, runtime = by_stage["deps"], by_stage["project"], by_stage["runtime"]
    env = docker_table()[full["dependency_manager"]]["env"]

    # Every image is pinned to a tag; the Python image follows python_version.
    for stage in by_stage.values():
        image = base_image(stage)
        if image in by_stage:  # built on an earlier stage of this file
            continue
        assert ":" in image, image
        assert not image.endswith(":latest"), image
    if manager["family"] == "pypi":
        slim = f"python:{full['python_version']}-slim"
        assert base_image(deps) == slim
        assert base_image(runtime) == slim

    # deps: dependencies from the lockfile the managers table names, and no source.
    text = " ".join(repr(ins) for ins in deps)
    lockfile = manager["lockfile"]
    pattern = rf"(COPY [^\n]*\b{re.escape(lockfile)}\b|source={re.escape(lockfile)}\b)"
    assert re.search(pattern, text), f"{lockfile} reaches the deps stage"
    assert not any(ins.keyword == "COPY" and ins.args.startswith(". ") for ins in deps)
    assert deps[-1].keyword == "RUN", "the dependency step ends the deps stage"
    assert "--mount=type=cache" in deps[-1].args, "downloads are cached"

    # project: built on deps, the source, then the project alone under /stage.
    assert base_image(project_stage) == "deps"
    assert [ins.keyword for ins in project_stage[1:]] == ["COPY", "RUN"], project_stage
    assert project_stage[1].args == ". ."
    install = project_stage[2].args
    assert "--mount=type=cache" in install, "downloads are cached"
    assert " --no-deps " in install, "the dependencies come from deps only"
    assert install.endswith(" ."), "the project is built from its source"
    assert "--editable" not in install, "a wheel, not an editable install pointing at /app"
    staged = "--root /stage " in install or f"--prefix /stage{env} " in install
    assert staged, f"installed below /stage: {install}"

    # The runtime stage: the environment, then the project's files, as two layers.
    copies = [ins.args for ins in runtime if ins.keyword == "COPY"]
    assert copies == [f"--from=deps {env} {env}", "--from=project /stage/ /"], copies
    assert not any(ins.keyword == "RUN" and "install" in ins.args and "apt-get" not in ins.args
                   for ins in runtime)  # fmt: skip
    layered = [ins.keyword for ins in runtime if ins.keyword in {"RUN", "COPY", "ADD", "WORKDIR"}]
    assert layered[-2:] == ["COPY", "COPY"], "the project's layer is the image's last layer"
    users = [ins.args for ins in runtime if ins.keyword == "USER"]
    assert users, "the runtime stage sets USER"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit(), users[-1]
    assert int(uid) > 0, users[-1]
    assert gid.isdigit(), users[-1]
    assert int(gid) > 0, users[-1]

    # dev (the dev container's image): on deps, without the project's source, non-root.
    dev = by_stage["dev"]
    assert base_image(dev) == "deps"
    assert not any(ins.keyword in {"COPY", "ADD"} and ". " in f"{ins.args} " for ins in dev)
    dev_users = [ins.args for ins in dev if ins.keyword == "USER"]
    assert dev_users[-1] == "1000:1000", dev_users
    assert any("nox==" in ins.args for ins in dev if ins.keyword == "RUN"), "nox for the tasks"

    # The entry point of the project kind.
    keywords = {ins.keyword: ins.args for ins in runtime}
    pkg = full["package_name"]
    if full["project_kind"] == "service":
        assert keywords["EXPOSE"] == "8000"
        assert "/health" in keywords["HEALTHCHECK"]
        assert "curl" not in keywords["HEALTHCHECK"]
        # The project's command: `serve` loads the model, then runs uvicorn.
        scripts = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))[
            "project"
        ]["scripts"]
        assert json.loads(keywords["ENTRYPOINT"]) == [
            *scripts, "serve", "--host", "0.0.0.0", "--port", "8000",
        ]  # fmt: skip
        assert scripts == {pkg.replace("_", "-"): f"{pkg}.cli:main"}
    elif full["project_kind"] == "pipeline":
        scripts = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))[
            "project"
        ]["scripts"]
        assert json.loads(keywords["ENTRYPOINT"]) == list(scripts)
    else:
        assert json.loads(keywords["CMD"]) == ["python", "-m", pkg]
        assert "ENTRYPOINT" not in keywords
    assert "EXPOSE" in keywords or full["project_kind"] != "service"


@pytest.mark.parametrize("answers", RENDERS)
def test_languages_toolchains_in_the_right_stage(render, answers: Answers) -> None:
    """PyPI managers get extra languages' toolchains from apt: build tools in deps only."""
    full = complete(answers)
    project = render(full)
    languages = table("languages", "languages")
    by_stage = stages(project / "Dockerfile")
    build_apt = " ".join(ins.args for ins in by_stage["deps"] if "apt-get install" in ins.args)
    run_apt = " ".join(ins.args for ins in by_stage["runtime"] if "apt-get install" in ins.args)
    pypi = managers()[full["dependency_manager"]]["family"] == "pypi"
    for name in full["extra_languages"]:
        for package in languages[name]["apt_build"]:
            assert (f" {package} " in f" {build_apt} ") == pypi, package
            assert f" {package} " not in f" {run_apt} ", package
        for package in languages[name]["apt_runtime"]:
            assert (f" {package} " in f" {run_apt} ") == pypi, package
    if not full["extra_languages"]:
        assert not build_apt
        assert not run_apt


@pytest.mark.parametrize("answers", RENDERS)
def test_dockerignore_keeps_secrets_and_environments_out(render, answers: Answers) -> None:
    lines = (render(answers) / ".dockerignore").read_text(encoding="utf-8").splitlines()
    for needed in [".git/", ".venv/", ".env", ".env.*", "*.pem", "*.key", "**/__pycache__/"]:
        assert needed in lines, needed
    for kept in ["src/", "pyproject.toml", "README.md", "LICENSE"]:
        assert kept not in lines, kept


def label_values(dockerfile: Path) -> dict[str, str]:
    """LABEL key="value" pairs, unescaped the way Docker reads double-quoted words."""
    labels: dict[str, str] = {}
    for ins in instructions(dockerfile):
        if ins.keyword != "LABEL":
            continue
        for key, value in re.findall(r'(\S+?)="((?:[^"\\]|\\.)*)"', ins.args):
            labels[key] = re.sub(r"\\(.)", r"\1", value)
    return labels


def test_labels_carry_free_text_unchanged(render) -> None:
    answers = complete({"project_name": "Demo Project", "description": HOSTILE})
    project = render(answers)
    # The joined instruction collapses runs of spaces; HOSTILE has none.
    labels = label_values(project / "Dockerfile")
    assert labels["org.opencontainers.image.description"] == HOSTILE
    assert labels["org.opencontainers.image.title"] == "Demo Project"
    assert labels["org.opencontainers.image.licenses"] == "MIT"
    text = (project / "Dockerfile").read_text(encoding="utf-8")
    assert "\\$HOME" in text, "variables are escaped, not expanded"
    assert "\\${PATH" in text, "variables are escaped, not expanded"
    result = run([tool("hadolint"), "--no-color", "Dockerfile"], cwd=project)
    assert result.stdout.strip() == ""
