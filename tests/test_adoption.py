"""Fast tier: adopting the template in a repository that already holds a project.

The path docs/updating.md gives ("Adopting an existing repository"): render the template
into a new folder next to the project, commit it there, and merge it into a branch of the
project with `git merge --allow-unrelated-histories`. Every file both have becomes a
conflict that shows both versions; nothing of the project is overwritten, and
`git merge --abort` undoes it all. After the merge is resolved, `copier update` works as
in any rendered project.
"""

from __future__ import annotations

import os
import subprocess
from typing import TYPE_CHECKING

import pytest

import template_repo as tr
from helpers import tool

if TYPE_CHECKING:
    from pathlib import Path

PACKAGE = "acme_scoring"
ANSWERS = {
    "project_name": "Acme scoring",
    "package_name": PACKAGE,
    "description": "Scores customer accounts",
    "author_name": "Acme data team",
    "author_email": "data@acme.example",
}

# The project as the team has it: a src package, its tests, dependencies in
# requirements.txt and pyproject.toml, a README and a workflow of its own.
EXISTING = {
    "README.md": "# Acme scoring\n\nScores customer accounts every night.\n\n"
    "## Usage\n\n    pip install -r requirements.txt\n    python -m acme_scoring\n",
    "requirements.txt": "tomli-w>=1.0\n",
    "pyproject.toml": '[build-system]\nrequires = ["setuptools>=68"]\n'
    'build-backend = "setuptools.build_meta"\n\n[project]\nname = "acme-scoring"\n'
    'version = "0.3.0"\ndependencies = ["tomli-w>=1.0"]\n',
    f"src/{PACKAGE}/__init__.py": '"""Acme scoring."""\n\nfrom acme_scoring.model import score\n\n'
    '__all__ = ["score"]\n',
    f"src/{PACKAGE}/model.py": '"""The scoring model."""\n\n\ndef score(value: float) -> float:\n'
    '    """Twice the value."""\n    return 2 * value\n',
    "tests/test_model.py": "from acme_scoring import score\n\n\ndef test_score() -> None:\n"
    "    assert score(2.0) == 4.0\n",
    ".github/workflows/ci.yml": "name: tests\non: push\njobs:\n  test:\n"
    "    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n"
    "      - run: pip install -r requirements.txt && pytest\n",
    ".gitignore": ".venv/\n__pycache__/\n",
}


@pytest.fixture
def existing(tmp_path: Path) -> Path:
    project = tmp_path / "acme-scoring"
    for name, text in EXISTING.items():
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    tr.git(project.parent, "init", "--quiet", "--initial-branch=main", str(project))
    tr.commit_all(project, "Our project")
    return project


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tr.build(tmp_path_factory.mktemp("template") / "groundwork")


def git_status(project: Path) -> dict[str, str]:
    lines = tr.git(project, "status", "--porcelain", "--untracked-files=all").splitlines()
    return {line[3:]: line[:2] for line in lines}


def test_adoption_by_merge_never_overwrites(existing: Path, template: Path) -> None:
    # docs/updating.md, step by step.
    tr.git(existing, "switch", "--quiet", "--create", "adopt-groundwork")
    render = existing.parent / "acme-scoring-groundwork"
    tr.render(template, ANSWERS, render, tr.OLD_TAG, init=True)
    tr.git(existing, "fetch", "--quiet", str(render), "HEAD")
    merge = subprocess.run(
        ["git", "merge", "--allow-unrelated-histories", "--no-edit", "FETCH_HEAD"],
        cwd=existing,
        env={**os.environ, **tr.GIT_ENV},
        capture_output=True,
        text=True,
        check=False,
    )
    assert merge.returncode != 0, "the merge stops at the files both have"

    rendered = tr.tree(render)
    both = {
        name for name in EXISTING if name in rendered and rendered[name] != EXISTING[name].encode()
    }
    assert both == {
        "README.md",
        "pyproject.toml",
        f"src/{PACKAGE}/__init__.py",
        ".github/workflows/ci.yml",
        ".gitignore",
    }
    status = git_status(existing)
    assert {name for name, code in status.items() if code == "AA"} == both
    for name, text in EXISTING.items():
        current = (existing / name).read_text(encoding="utf-8")
        if name in both:
            # Ours is kept whole in the index, and every line of it is in the file.
            assert tr.git(existing, "show", f":2:{name}") == text
            assert all(line in current.splitlines() for line in text.splitlines()), name
            assert "<<<<<<< " in current
        else:
            assert current == text, f"{name} was changed"
    # The template's other files are staged, ready to commit.
    for name in rendered:
        if name not in EXISTING:
            assert status.get(name) == "A ", (name, status.get(name))

    # `git merge --abort` puts the project back exactly.
    tr.git(existing, "merge", "--abort")
    assert tr.listed_files(existing) == {k: v.encode() for k, v in EXISTING.items()}


def test_after_adoption_copier_update_works(existing: Path, template: Path) -> None:
    tr.git(existing, "switch", "--quiet", "--create", "adopt-groundwork")
    render = existing.parent / "acme-scoring-groundwork"
    tr.render(template, ANSWERS, render, tr.OLD_TAG, init=True)
    tr.git(existing, "fetch", "--quiet", str(render), "HEAD")
    subprocess.run(
        ["git", "merge", "--allow-unrelated-histories", "--no-edit", "FETCH_HEAD"],
        cwd=existing,
        env={**os.environ, **tr.GIT_ENV},
        capture_output=True,
        check=False,
    )
    # A resolution as docs/updating.md suggests: the template's build and CI files, our
    # code; our dependency moved into pyproject.toml; what the template replaces removed.
    for name in ("README.md", "pyproject.toml", ".github/workflows/ci.yml", ".gitignore"):
        tr.git(existing, "checkout", "--theirs", "--", name)
    tr.git(existing, "checkout", "--ours", "--", f"src/{PACKAGE}/__init__.py")
    tr.add_dependency_to_pyproject(existing, "tomli-w>=1.0")
    tr.git(existing, "rm", "--quiet", "requirements.txt")
    for sample in (f"src/{PACKAGE}/core.py", "tests/test_core.py"):
        tr.git(existing, "rm", "--quiet", "--force", sample)
    tr.git(existing, "add", "--all")
    tr.git(existing, "commit", "--quiet", "--no-edit")
    assert tr.files_with_markers(existing) == []

    tr.update(existing)

    assert tr.conflicted(existing) == []
    assert tr.files_with_markers(existing) == []
    for name in (f"src/{PACKAGE}/__init__.py", f"src/{PACKAGE}/model.py", "tests/test_model.py"):
        assert (existing / name).read_text(encoding="utf-8") == EXISTING[name]
    assert not (existing / f"src/{PACKAGE}/core.py").exists(), "deleted sample code stays deleted"
    assert "tomli-w>=1.0" in (existing / "pyproject.toml").read_text(encoding="utf-8")
    assert (existing / tr.NEW_FILE).is_file(), "the newer release arrived"


def test_copying_into_the_project_itself_does_not_overwrite_silently(
    existing: Path, template: Path
) -> None:
    """Why the docs render into a new folder: `copier copy` into the project asks about
    each file it would overwrite (Yes by default), and without a terminal it stops."""
    result = subprocess.run(
        [tool("copier"), "copy", "--defaults", f"--vcs-ref={tr.OLD_TAG}"]
        + [f"--data={key}={value}" for key, value in ANSWERS.items()]
        + [str(template), str(existing)],
        env={**os.environ, **tr.GIT_ENV},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "--overwrite" in result.stderr
    for name, text in EXISTING.items():
        assert (existing / name).read_text(encoding="utf-8") == text, name
