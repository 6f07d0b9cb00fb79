"""Fast tier: the questionnaire answered in a real terminal, as a person answers it.

pexpect runs `copier copy` in a pseudo-terminal and pyte keeps the screen (tests/terminal.py).
The order of questions, their help lines and choice labels all come from copier.yml, so
these tests follow the questionnaire as it changes. No question of copier.yml uses `when`
today (every question matters for every project); `test_a_question_hidden_by_when_is_never_asked`
proves the mechanism, and the order check below, on a copy of the template with one.
"""

from __future__ import annotations

import re
import shutil
import tomllib
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from matrix import ROOT
from terminal import (
    CPR_WARNING,
    POINTER,
    Session,
    answer,
    answer_all,
    choice_labels,
    expected_order,
    help_line,
    next_question,
)

if TYPE_CHECKING:
    from pathlib import Path


def recorded(project: Path) -> dict[str, Any]:
    return yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))


def pointed_at_default(screen: str, spec: dict[str, Any], value: Any) -> bool:
    """The select prompt's pointer starts on `value`'s label."""
    label = choice_labels(spec)[value]
    return any(line.lstrip().startswith(POINTER) and label in line for line in screen.splitlines())


def check_asked(session: Session, asked: list[tuple[str, str]], answers: dict[str, Any]) -> None:
    """Order from copier.yml (questions hidden by `when` left out); each whole help shown.

    A prompt that showed a key instead of its help would have failed in `answer_all`.
    """
    names = [name for name, _ in asked]
    assert names == expected_order(session.questions, answers)
    for name, screen in asked:
        spec = session.questions[name]
        assert " ".join(help_line(spec, name).split()) in " ".join(screen.split()), name


def test_default_path(tmp_path: Path) -> None:
    """Enter on every question, in an 80-column terminal: every help line fits (choice
    prompts do not wrap, they cut), and the defaults a person sees are the ones recorded."""
    project = tmp_path / "Churn Model"
    session = Session(project, columns=80)
    try:
        asked = answer_all(session, {})
        assert session.finish() == 0, session.logical_text()
    finally:
        session.close()
    answers = recorded(project)
    check_asked(session, asked, answers)
    screens = dict(asked)
    questions = session.questions
    # Input questions show their default pre-filled in the line editor.
    assert "Churn Model" in screens["project_name"].split("\n")[-1]
    assert "churn_model" in screens["package_name"].splitlines()[-1]
    # Choice questions start on their default; impossible choices are shown disabled.
    assert pointed_at_default(screens["dependency_manager"], questions["dependency_manager"], "uv")
    assert pointed_at_default(screens["deploy_target"], questions["deploy_target"], "pypi")
    targets = "|".join(choice_labels(questions["deploy_target"]))
    disabled = re.findall(rf"(?:^|\s)- ({targets}):", screens["deploy_target"], re.MULTILINE)
    assert disabled == ["aws", "gcp", "azure"]
    assert answers["project_name"] == "Churn Model"
    assert answers["package_name"] == "churn_model"
    assert answers["dependency_manager"] == "uv"
    assert answers["deploy_target"] == "pypi"
    assert answers["extra_languages"] == []
    assert (project / "uv.lock").exists() is False
    assert (project / "src" / "churn_model" / "__init__.py").is_file()
    # Session answers cursor-position requests; if one came too late, prompt_toolkit prints a
    # harmless CPR warning; nothing else may go wrong on the way.
    output = session.plain_output().replace(CPR_WARNING, "")
    assert "Traceback" not in output
    assert "Error" not in output
    assert "Next steps" in output
    assert "uv sync --locked" in output


def test_multi_language_conda_poetry_pipeline(tmp_path: Path) -> None:
    """Typed answers, a rejected answer asked again, and defaults that follow earlier answers."""
    project = tmp_path / "mixed"
    session = Session(project)
    typed = {
        "project_name": "Churn Model",
        "description": 'Scores "churn": R + Node.js',
        "author_name": "Data Team",
        "author_email": "data@example.com",
        "license": "Apache-2.0",
        "project_kind": "pipeline",
        "extra_languages": ["r", "node"],
    }
    asked: list[tuple[str, str]] = []
    previous = ""
    try:
        while (current := next_question(session, previous)) is not None:
            name = session.question_shown(current)
            assert name is not None, current
            asked.append((name, session.logical_text()))
            spec = session.questions[name]
            if name == "package_name":
                # A bad answer: the validator's one line shows and the question stays open.
                session.type_answer("1churn")
                session.wait_for("package_name: '1churn' is not a lowercase Python identifier")
                assert session.prompt_line() == current
                session.type_answer("churn")
            elif name == "dependency_manager":
                # Two extra languages: conda + Poetry is pre-selected. Enter takes it.
                assert pointed_at_default(session.text(), spec, "conda-poetry")
                session.send("enter")
            elif name == "deploy_target":
                # A pipeline deploys to AWS by default. Enter takes it.
                assert pointed_at_default(session.text(), spec, "aws")
                session.send("enter")
            else:
                answer(session, name, typed[name]) if name in typed else session.send("enter")
            previous = current
        assert session.finish() == 0, session.logical_text()
    finally:
        session.close()
    answers = recorded(project)
    check_asked(session, asked, answers)
    expected = {
        **typed,
        "package_name": "churn",
        "dependency_manager": "conda-poetry",
        "python_version": "3.13",
        "deploy_target": "aws",
    }
    assert {key: answers[key] for key in expected} == expected
    # The rendered repository is the one those answers describe.
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["description"] == typed["description"]
    assert pyproject["project"]["license"] == "Apache-2.0"
    environment = yaml.safe_load((project / "environment.yml").read_text(encoding="utf-8"))
    assert any(str(dep).startswith("r-base") for dep in environment["dependencies"])
    assert any(str(dep).startswith("nodejs") for dep in environment["dependencies"])
    for path in [
        "poetry.toml",
        "src/churn/cli.py",
        "src/churn/rstats.py",
        "src/churn/node/report.js",
        ".github/workflows/deploy.yml",
    ]:
        assert (project / path).is_file(), path
    assert "aws-actions/configure-aws-credentials" in (
        project / ".github/workflows/deploy.yml"
    ).read_text(encoding="utf-8")
    assert (project / "README.md").read_text(encoding="utf-8").startswith("# Churn Model\n")
    output = session.plain_output()
    assert "poetry install" in output
    assert "Deploy target: AWS" in output


def test_a_question_hidden_by_when_is_never_asked(tmp_path: Path) -> None:
    """On a copy of the template with a follow-up asked only for services."""
    template = tmp_path / "template"
    shutil.copytree(ROOT, template, ignore=shutil.ignore_patterns(".git", ".venv", "*cache*"))
    text = (template / "copier.yml").read_text(encoding="utf-8")
    follow_up = (
        "service_port:\n  type: int\n  help: Port the service listens on\n  default: 8000\n"
        "  when: \"{{ project_kind == 'service' }}\"\n\n"
    )
    text = text.replace("\nextra_languages:\n", f"\n{follow_up}extra_languages:\n", 1)
    (template / "copier.yml").write_text(text, encoding="utf-8")
    for kind, expect_asked in [("library", False), ("service", True)]:
        project = tmp_path / kind
        session = Session(project, template=template)
        try:
            asked = answer_all(
                session,
                {"project_kind": kind, "deploy_target": "ghcr"} if kind == "service" else {},
            )
            assert session.finish() == 0, session.logical_text()
        finally:
            session.close()
        names = [name for name, _ in asked]
        assert ("service_port" in names) is expect_asked, names
        answers = recorded(project)
        assert names == expected_order(session.questions, answers, template)
        assert ("service_port" in answers) is expect_asked


@pytest.mark.parametrize("name", ["project_name", "author_email"])
def test_every_validator_message_is_one_line_on_screen(tmp_path: Path, name: str) -> None:
    """An empty project name or a bad e-mail: the message is shown, then the fix is taken."""
    bad, good, message = {
        "project_name": ("", "ok", "project_name: must not be empty."),
        "author_email": ("ada", "ada@example.com", "author_email: 'ada' is not an e-mail address"),
    }[name]
    session = Session(tmp_path / "out")
    asked: list[str] = []
    previous = ""
    try:
        while (current := next_question(session, previous)) is not None:
            current_name = session.question_shown(current)
            asked.append(str(current_name))
            if current_name == name:
                session.type_answer(bad)
                session.wait_for(message)
                assert session.prompt_line() == current
                session.type_answer(good)
            else:
                session.send("enter")
            previous = current
        assert session.finish() == 0
    finally:
        session.close()
    assert asked.count(name) == 1
    assert recorded(tmp_path / "out")[name] == good
