"""Fast tier: `copier update` brings template changes into a project without losing edits.

The template is snapshotted into a throwaway git repository (tags v1, v2) so that the
test exercises Copier's real update path: re-render the old version, diff, apply to the
new one.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from helpers import run, tool
from matrix import BASE, ROOT

GIT_ENV = {
    "GIT_AUTHOR_NAME": "groundwork tests",
    "GIT_AUTHOR_EMAIL": "tests@example.com",
    "GIT_COMMITTER_NAME": "groundwork tests",
    "GIT_COMMITTER_EMAIL": "tests@example.com",
}


def git(cwd: Path, *args: str) -> str:
    return run(["git", *args], cwd=cwd, env=GIT_ENV).stdout


def snapshot_template(target: Path) -> Path:
    """Copy the template as it is in the working tree (committed or not) into a new repo."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file() and not name.startswith(("tests/", "benchmarks/")):
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    git(target, "init", "-q", "-b", "main")
    git(target, "add", "-A")
    git(target, "commit", "-q", "-m", "template v1")
    git(target, "tag", "v1")
    return target


def copier(*args: str, cwd: Path | None = None) -> None:
    run([tool("copier"), *args], cwd=cwd, env=GIT_ENV)


@pytest.fixture
def template_and_project(tmp_path: Path) -> tuple[Path, Path]:
    template = snapshot_template(tmp_path / "template")
    project = tmp_path / "project"
    data = [f"--data={key}={value}" for key, value in BASE.items()]
    copier("copy", "--defaults", "--vcs-ref=v1", *data, str(template), str(project))
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "start from groundwork v1")
    return template, project


def test_update_merges_template_change_and_keeps_user_edits(
    template_and_project: tuple[Path, Path],
) -> None:
    template, project = template_and_project
    # The user edits the generated README and adds code of their own.
    readme = project / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8") + "\n## Our notes\n\nKeep me.\n")
    (project / "src" / "demo_project" / "extra.py").write_text('"""Ours."""\n')
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "our edits")

    # The template improves a file the user did not touch.
    gitignore = template / "template" / ".gitignore.jinja"
    gitignore.write_text(gitignore.read_text(encoding="utf-8") + "\n# Data files\n*.parquet\n")
    git(template, "commit", "-q", "-am", "template v2")
    git(template, "tag", "v2")

    copier("update", "--defaults", "--vcs-ref=v2", cwd=project)

    assert "*.parquet" in (project / ".gitignore").read_text(encoding="utf-8")
    assert "Keep me." in readme.read_text(encoding="utf-8")
    assert (project / "src" / "demo_project" / "extra.py").is_file()
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert answers["_commit"] == "v2"
    status = git(project, "status", "--porcelain")
    assert "<<<<<<<" not in "".join(
        path.read_text(encoding="utf-8", errors="replace")
        for path in project.rglob("*")
        if path.is_file() and ".git" not in path.parts
    ), status


def test_update_with_a_new_answer_rewrites_the_pins(
    template_and_project: tuple[Path, Path],
) -> None:
    _template, project = template_and_project
    copier("update", "--defaults", "--data=python_version=3.12", "--vcs-ref=v1", cwd=project)
    assert (project / ".python-version").read_text(encoding="utf-8").strip() == "3.12"
    pyproject = (project / "pyproject.toml").read_text(encoding="utf-8")
    assert 'requires-python = ">=3.12"' in pyproject


def test_update_without_changes_is_a_no_op(template_and_project: tuple[Path, Path]) -> None:
    _template, project = template_and_project
    copier("update", "--defaults", "--vcs-ref=v1", cwd=project)
    assert git(project, "status", "--porcelain") == ""


def test_switching_manager_removes_its_files(template_and_project: tuple[Path, Path]) -> None:
    _template, project = template_and_project
    copier("update", "--defaults", "--data=dependency_manager=pipenv", "--vcs-ref=v1", cwd=project)
    assert (project / "Pipfile").is_file()
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "switch to pipenv")
    copier("update", "--defaults", "--data=dependency_manager=uv", "--vcs-ref=v1", cwd=project)
    assert not (project / "Pipfile").exists()
