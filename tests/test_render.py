"""Fast tier: every combination renders the files it should, and they pass static judges."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from helpers import CloudFormationLoader, params, run, tool
from matrix import Answers, all_static_renders, complete

RENDERS = params(all_static_renders())

ALWAYS = [
    ".copier-answers.yml",
    ".dockerignore",
    ".github/dependabot.yml",
    ".github/workflows/ci.yml",
    ".github/workflows/template-update.yml",
    ".gitignore",
    ".pre-commit-config.yaml",
    ".python-version",
    "Dockerfile",
    "LICENSE",
    "README.md",
    "docs/index.md",
    "docs/reference.md",
    "noxfile.py",
    "zensical.toml",
    "pyproject.toml",
    "src/{pkg}/__init__.py",
    "src/{pkg}/core.py",
    "src/{pkg}/py.typed",
    "tests/test_core.py",
]


def expected_conditional(answers: Answers) -> dict[str, bool]:
    """Files that exist for some answers only: path -> whether this render has it."""
    manager = answers["dependency_manager"]
    kind = answers["project_kind"]
    return {
        "environment.yml": manager in {"conda", "conda-poetry"},
        "poetry.toml": manager == "conda-poetry",
        "pixi.toml": manager == "pixi",
        "Pipfile": manager == "pipenv",
        "src/{pkg}/app.py": kind == "service",
        "tests/test_app.py": kind == "service",
        "src/{pkg}/cli.py": kind in {"pipeline", "service"},
        "tests/test_cli.py": kind in {"pipeline", "service"},
        # the model as an artifact, and training it
        "src/{pkg}/model.py": kind in {"pipeline", "service"},
        "src/{pkg}/sample_model.json": kind in {"pipeline", "service"},
        "src/{pkg}/train.py": kind in {"pipeline", "service"},
        "tests/test_model.py": kind in {"pipeline", "service"},
        "tests/test_train.py": kind in {"pipeline", "service"},
        "src/{pkg}/__main__.py": kind != "service",
        "tests/test_main.py": kind == "library",
        # the docs site is published where the code is open source
        ".github/workflows/docs.yml": answers["license"] != "Proprietary",
        "src/{pkg}/dataset.py": kind == "pipeline",
        "src/{pkg}/inputs.py": kind == "pipeline",
        "src/{pkg}/shards.py": kind == "pipeline",
        "tests/test_shards.py": kind == "pipeline",
        "src/{pkg}/glue.py": kind == "pipeline" and answers["deploy_target"] == "aws",
        "src/{pkg}/locations.py": kind != "library",
        "tests/test_locations.py": kind != "library",
        "infra/aws.yml": answers["deploy_target"] == "aws",
        "infra/deploy.sh": answers["deploy_target"] == "aws",
        "tests/test_glue_table.py": kind == "pipeline" and answers["deploy_target"] == "aws",
    }


def files(project: Path) -> list[Path]:
    return sorted(path for path in project.rglob("*") if path.is_file())


@pytest.mark.parametrize("answers", RENDERS)
def test_expected_files(render, answers: Answers) -> None:
    full = complete(answers)
    project = render(full)
    pkg = full["package_name"]
    for name in ALWAYS:
        assert (project / name.format(pkg=pkg)).is_file(), name
    for name, wanted in expected_conditional(full).items():
        assert (project / name.format(pkg=pkg)).is_file() == wanted, name


@pytest.mark.parametrize("answers", RENDERS)
def test_outputs_parse_and_read_clean(render, answers: Answers) -> None:
    project = render(answers)
    for path in files(project):
        text = path.read_text(encoding="utf-8")
        name = str(path.relative_to(project))
        assert not path.name.endswith(".jinja"), name
        assert "{%" not in text, f"leftover Jinja in {name}"
        assert "{#" not in text, f"leftover Jinja comment in {name}"
        assert not re.search(r"(?<!\$)\{\{", text), f"leftover {{{{ in {name}"
        if path.suffix == ".toml" or path.name == "Pipfile":
            tomllib.loads(text)
        elif path.suffix in {".yml", ".yaml"}:
            # infra/ holds CloudFormation, whose !Ref and !Sub tags are its own.
            loader = CloudFormationLoader if path.parent.name == "infra" else yaml.SafeLoader
            yaml.load(text, Loader=loader)
        elif path.suffix == ".json":
            json.loads(text)
        if path.name == "py.typed":
            continue
        assert text.endswith("\n"), f"{name}: no final newline"
        assert not text.endswith("\n\n"), f"{name}: blank lines at the end"
        assert not re.search(r"[ \t]+$", text, re.MULTILINE), f"trailing whitespace in {name}"
        if path.name != "LICENSE":
            limit = "\n\n\n\n" if path.suffix == ".py" else "\n\n\n"
            assert limit not in text, f"run of blank lines in {name}"


@pytest.mark.parametrize("answers", RENDERS)
def test_pyproject_is_valid(render, answers: Answers) -> None:
    run([tool("validate-pyproject"), "pyproject.toml"], cwd=render(answers))


@pytest.mark.parametrize("answers", RENDERS)
def test_python_passes_ruff(render, answers: Answers) -> None:
    project = render(answers)
    ruff = tool("ruff")
    run([ruff, "check", "--no-cache", "."], cwd=project)
    run([ruff, "format", "--no-cache", "--check", "."], cwd=project)


@pytest.mark.parametrize("answers", RENDERS)
def test_github_files_match_schemas(render, answers: Answers) -> None:
    project = render(answers)
    check = tool("check-jsonschema")
    workflows = sorted(str(p) for p in (project / ".github" / "workflows").glob("*.yml"))
    run([check, "--builtin-schema", "vendor.github-workflows", *workflows])
    run([check, "--builtin-schema", "vendor.dependabot", str(project / ".github/dependabot.yml")])


@pytest.mark.parametrize("answers", RENDERS)
def test_answers_file_records_every_answer(render, answers: Answers) -> None:
    full = complete(answers)
    recorded = yaml.safe_load((render(full) / ".copier-answers.yml").read_text(encoding="utf-8"))
    for key, value in full.items():
        assert recorded[key] == value, key
