"""Fast tier: `copier update` from an older release of the template, as users run it.

A throwaway repository holds two releases of the template (tests/template_repo.py):
OLD_TAG, an older state with the differences a real release brings, and NEW_TAG, today's
template. Projects are rendered at OLD_TAG, committed, edited the way users edit them,
then updated. No dependency manager runs here: test_update_managers.py does that for
every manager in the install tier.
"""

from __future__ import annotations

import os
import re
import subprocess
from typing import TYPE_CHECKING

import pytest
import yaml

import template_repo as tr
from helpers import run, tool
from matrix import BASE, ROOT

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

PACKAGE = BASE["package_name"]
ANSWERS = {**BASE}


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tr.build(tmp_path_factory.mktemp("template") / "groundwork")


@pytest.fixture
def project(template: Path, tmp_path: Path) -> Path:
    return tr.render(template, ANSWERS, tmp_path / "project", tr.OLD_TAG, init=True)


def head(project: Path) -> str:
    return tr.git(project, "rev-parse", "HEAD").strip()


def answers_of(project: Path) -> dict[str, object]:
    return dict(yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8")))


def test_update_is_a_fresh_render_plus_the_users_hunks(
    template: Path, project: Path, tmp_path: Path
) -> None:
    fresh = tr.render(template, ANSWERS, tmp_path / "fresh", tr.NEW_TAG)
    start = head(project)
    tr.add_dependency_to_pyproject(project)
    tr.edit_like_a_user(project, PACKAGE, [fresh])
    tr.commit_all(project, "our edits")
    edited = head(project)

    tr.update(project)

    assert tr.conflicted(project) == []
    assert tr.files_with_markers(project) == []
    expected = tr.expected_after_update(
        project, start, edited, fresh, PACKAGE, tmp_path / "expected"
    )
    assert tr.listed_files(project) == expected
    assert answers_of(project)["_commit"] == tr.NEW_TAG
    # Spelled out: each template change arrived, each user edit stayed.
    ci = (project / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8")
    assert tr.OLD_CHECKOUT_PIN not in ci
    assert f"- name: {tr.NEW_CI_STEP}" in ci
    assert ci.endswith(tr.USER_CI_STEP)
    assert (project / tr.NEW_FILE).is_file()
    assert not (project / tr.REMOVED_FILE).exists()
    readme = (project / "README.md").read_text(encoding="utf-8")
    assert tr.OLD_README_SECTION not in readme
    assert tr.USER_README_LINE in readme
    assert tr.USER_DOCKERFILE_LINE in (project / "Dockerfile").read_text(encoding="utf-8")
    assert tr.DEPENDENCY_SPEC in (project / "pyproject.toml").read_text(encoding="utf-8")
    assert (project / "src" / PACKAGE / "formats.py").read_text() == tr.USER_MODULE
    core = (project / "src" / PACKAGE / "core.py").read_text(encoding="utf-8")
    assert core.startswith(tr.OLD_CORE_DOCSTRING), "core.py is the user's: never updated"


def test_an_edit_of_a_line_the_template_changed_gives_inline_conflict_markers(
    template: Path, project: Path, tmp_path: Path
) -> None:
    """The user bumped the checkout action; so did the template."""
    ours = "actions/checkout@08eba0b27e820071cde6df949e0beb9ba4906955 # v4.3.0"
    ci = project / ".github" / "workflows" / "ci.yml"
    ci.write_text(ci.read_text(encoding="utf-8").replace(tr.OLD_CHECKOUT_PIN, ours))
    tr.commit_all(project, "bump checkout")

    tr.update(project)

    assert tr.conflicted(project) == [".github/workflows/ci.yml"]
    assert tr.files_with_markers(project) == [".github/workflows/ci.yml"]
    text = ci.read_text(encoding="utf-8")
    hunks = re.findall(
        r"^<<<<<<< before updating\n(.*?)^=======\n(.*?)^>>>>>>> after updating\n",
        text,
        re.MULTILINE | re.DOTALL,
    )
    assert hunks, text
    fresh = tr.render(template, ANSWERS, tmp_path / "fresh", tr.NEW_TAG)
    theirs = (fresh / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8")
    for yours, template_side in hunks:
        assert ours in yours
        assert template_side in theirs
    # git refuses to commit until the conflicts are marked resolved (docs/updating.md).
    refused = run_git_commit(project)
    assert refused.returncode != 0
    assert "unmerged" in refused.stderr + refused.stdout
    # Resolving as the docs say: keep the lines you want, delete the markers, `git add`.
    resolved = re.sub(
        r"^<<<<<<< before updating\n.*?^=======\n(.*?)^>>>>>>> after updating\n",
        r"\1",
        text,
        flags=re.MULTILINE | re.DOTALL,
    )
    ci.write_text(resolved, encoding="utf-8")
    tr.git(project, "add", ".github/workflows/ci.yml")
    tr.commit_all(project, "update from the template")
    assert resolved == theirs


def run_git_commit(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "commit", "--quiet", "--message", "too early"],
        cwd=project,
        env={**os.environ, **tr.GIT_ENV},
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_users_own_files_are_never_written_recreated_or_deleted(
    template: Path, project: Path
) -> None:
    owned = tr.user_owned_paths(PACKAGE)
    assert owned == {
        f"src/{PACKAGE}/__init__.py",
        f"src/{PACKAGE}/core.py",
        "tests/test_core.py",
        "docs/index.md",
    }
    core = project / "src" / PACKAGE / "core.py"
    ours = (
        core.read_text(encoding="utf-8") + '\n\ndef ours() -> int:\n    """Ours."""\n    return 1\n'
    )
    core.write_text(ours, encoding="utf-8")
    (project / "tests" / "test_core.py").unlink()
    (project / "docs" / "index.md").unlink()
    init = (project / "src" / PACKAGE / "__init__.py").read_text(encoding="utf-8")
    tr.commit_all(project, "our code")

    # The template changed core.py between the releases; an answer change below would
    # change __init__.py and docs/index.md too (both render the project's name).
    tr.update(project)
    tr.commit_all(project, "update")
    tr.update(project, "--data=description=Scores for the weekly report")

    assert tr.conflicted(project) == []
    assert core.read_text(encoding="utf-8") == ours
    assert not (project / "tests" / "test_core.py").exists()
    assert not (project / "docs" / "index.md").exists()
    assert (project / "src" / PACKAGE / "__init__.py").read_text(encoding="utf-8") == init
    assert answers_of(project)["description"] == "Scores for the weekly report"


def test_a_deleted_template_file_stays_deleted(project: Path) -> None:
    """The user runs CI elsewhere and deleted ci.yml; the template changed it since."""
    (project / ".github" / "workflows" / "ci.yml").unlink()
    tr.commit_all(project, "we use another CI")
    tr.update(project)
    assert not (project / ".github" / "workflows" / "ci.yml").exists()
    assert (project / tr.NEW_FILE).is_file(), "a new template file still arrives"


def test_an_answer_change_removes_the_files_it_no_longer_calls_for(project: Path) -> None:
    deploy = project / ".github" / "workflows" / "deploy.yml"
    assert deploy.is_file()
    node = project / "src" / PACKAGE / "node" / "report.js"
    tr.update(project, f"--vcs-ref={tr.NEW_TAG}", '--data=extra_languages=["node"]')
    assert node.is_file()
    assert (project / "tests" / "test_report.py").is_file()
    tr.commit_all(project, "add Node.js")

    tr.update(project, "--data=extra_languages=[]", "--data=deploy_target=none")
    assert not node.exists()
    assert not (project / "src" / PACKAGE / "report.py").exists()
    assert not (project / "tests" / "test_report.py").exists()
    assert not deploy.exists()
    assert "deploy.yml" not in (project / "README.md").read_text(encoding="utf-8")
    tr.commit_all(project, "no Node.js, no deployment")

    tr.update(project, "--data=dependency_manager=pipenv")
    assert (project / "Pipfile").is_file()
    tr.commit_all(project, "switch to pipenv")
    tr.update(project, "--data=dependency_manager=uv")
    assert not (project / "Pipfile").exists()
    # The user's own files survive every answer change.
    for name in tr.user_owned_paths(PACKAGE):
        assert (project / name).is_file(), name


def test_a_new_python_version_moves_every_pin(project: Path) -> None:
    import test_pins

    tr.update(project, "--data=python_version=3.12")
    answers = {**ANSWERS, **answers_of(project)}
    assert answers["python_version"] == "3.12"
    pins: dict[str, str] = {}
    for reader in test_pins.PIN_READERS:
        pins.update(reader(project, answers))
    assert pins, "no pins read"
    assert set(pins.values()) == {"3.12"}, pins


def test_an_update_without_changes_is_a_no_op(template: Path, tmp_path: Path) -> None:
    project = tr.render(template, ANSWERS, tmp_path / "current", tr.NEW_TAG, init=True)
    tr.update(project)
    assert tr.git(project, "status", "--porcelain") == ""


def test_answers_renamed_by_a_release_migrate_without_trust(tmp_path: Path) -> None:
    """The recipe of docs/releasing.md, applied to a release that renames the question
    `kind` to `project_kind` and the licence value `GPL-3.0` to `GPL-3.0-or-later`:
    a project whose answers file predates the rename updates with plain
    `copier update --defaults` (no --trust, no _migrations)."""

    def older(files: dict[str, bytes]) -> dict[str, bytes]:
        renamed = {}
        for name, content in tr.old_state(files).items():
            text = content.decode()
            text = re.sub(r"\bproject_kind\b", "kind", text)
            text = text.replace("GPL-3.0-or-later", "GPL-3.0")
            renamed[name.replace("GPL-3.0-or-later", "GPL-3.0")] = text.encode()
        return renamed

    def newer(files: dict[str, bytes]) -> dict[str, bytes]:
        config = files["copier.yml"].decode()
        config = tr._replace(
            config,
            "project_kind:\n  type: str\n",
            "project_kind:\n  type: str\n"
            "  # Renamed from `kind` in v1.1.0: an older answers file still answers it.\n",
            "project_kind question",
        )
        config = tr._replace(
            config,
            "  default: library\n",
            "  default: \"{{ kind if kind is defined else 'library' }}\"\n",
            "project_kind default",
        )
        config = tr._replace(
            config,
            "  default: MIT\n",
            "  # GPL-3.0 was renamed GPL-3.0-or-later in v1.1.0.\n"
            "  default: \"{{ {'GPL-3.0': 'GPL-3.0-or-later'}.get(license, license)"
            " if license is defined else 'MIT' }}\"\n",
            "license default",
        )
        return {**files, "copier.yml": config.encode()}

    repo = tmp_path / "groundwork"
    repo.mkdir()
    tr.git(repo, "init", "--quiet", "--initial-branch=main")
    tr._write(repo, older(tr.today()))
    tr.commit_all(repo, "old")
    tr.git(repo, "tag", tr.OLD_TAG)
    tr._write(repo, newer(tr.today()))
    tr.commit_all(repo, "new")
    tr.git(repo, "tag", tr.NEW_TAG)

    old_answers = {**ANSWERS, "kind": "service", "license": "GPL-3.0", "deploy_target": "ghcr"}
    project = tr.render(repo, old_answers, tmp_path / "project", tr.OLD_TAG, init=True)
    assert answers_of(project)["kind"] == "service"

    tr.update(project)  # no --trust

    answers = answers_of(project)
    assert answers["project_kind"] == "service"
    assert answers["license"] == "GPL-3.0-or-later"
    assert "kind" not in answers
    assert tr.conflicted(project) == []
    new_answers = {**ANSWERS, "project_kind": "service", "license": "GPL-3.0-or-later"}
    new_answers["deploy_target"] = "ghcr"
    fresh = tr.render(repo, new_answers, tmp_path / "fresh", tr.NEW_TAG)
    owned = tr.user_owned_paths(PACKAGE)
    assert {k: v for k, v in tr.listed_files(project).items() if k not in owned} == {
        k: v for k, v in tr.tree(fresh).items() if k not in owned
    }
    # A fresh copy of the new release still defaults as before.
    default = tr.render(repo, ANSWERS, tmp_path / "default", tr.NEW_TAG)
    assert answers_of(default)["license"] == "MIT"
    assert answers_of(default)["project_kind"] == "library"


def test_copier_is_pinned_to_one_version() -> None:
    """includes/update.jinja pins the Copier that rendered repositories run; the
    template's tests and its README run the same one."""
    pin = re.search(r'copier_version = "([^"]+)"', (ROOT / "includes" / "update.jinja").read_text())
    assert pin
    version = pin.group(1)
    assert f'"copier=={version}"' in (ROOT / "pyproject.toml").read_text()
    assert f"copier=={version}" in (ROOT / "README.md").read_text()
    installed = run([tool("copier"), "--version"]).stdout.split()[-1]
    assert installed == version


# --- README sections of the user's own, across template rewrites ---------------------------

README_MARKER = re.compile(r"^<!-- (/?)groundwork: ([a-z-]+) -->$", re.MULTILINE)
# Sections a user adds: one between two of the template's sections, one at the end.
OWN_MIDDLE = (
    "## Our deployment notes\n\nStaging is the platform team's cluster; ask them first.\n\n"
)
OWN_END = "\n## Team contacts\n\nData Team, data@example.com, Mondays to Fridays.\n"
MIDDLE_AFTER = "<!-- /groundwork: dev-container -->\n\n"


def rewrite_sections(files: dict[str, bytes]) -> dict[str, bytes]:
    """A release that rewrites the sections next to the user's own: the last section,
    "Updating from the template", gets a line reworded and a paragraph at its end; the
    middle section "Dev container" a paragraph at its end; "Docs site" a new heading."""
    text = files["template/README.md.jinja"].decode()
    text = tr._replace(
        text, "run the tests and commit.", "run the tests, then commit.", "last section's line"
    )
    text = tr._replace(
        text,
        re.compile(r"(so none is lost\.\n)"),
        r"\1\nWhat each release brings, and its manual steps: the template's `CHANGELOG.md`.\n",
        "end of the last section",
    )
    text = tr._replace(
        text,
        re.compile(r"(the environment is part of its image\.\n\{% endif %\}\n)"),
        r"\1\nThe container's Python is the image's: rebuild it after changing"
        " `.python-version`.\n",
        "end of the dev container section",
    )
    text = tr._replace(
        text, "## Docs site\n", "## Documentation site\n", "heading of the docs section"
    )
    return {**files, "template/README.md.jinja": text.encode()}


def without_markers(files: dict[str, bytes]) -> dict[str, bytes]:
    """The same template with its README's section markers (and their blank line) gone."""
    text = files["template/README.md.jinja"].decode()
    text = re.sub(r"^<!-- /groundwork: [a-z-]+ -->\n(\n|\Z)", "", text, flags=re.MULTILINE)
    text = re.sub(r"^<!-- groundwork: [a-z-]+ -->\n", "", text, flags=re.MULTILINE)
    assert not README_MARKER.search(text)
    return {**files, "template/README.md.jinja": text.encode()}


def two_releases(repo: Path, old: dict[str, bytes]) -> Path:
    """A template repository: OLD_TAG with these files, NEW_TAG rewriting README sections."""
    repo.mkdir()
    tr.git(repo, "init", "--quiet", "--initial-branch=main")
    for tag, files in ((tr.OLD_TAG, old), (tr.NEW_TAG, rewrite_sections(old))):
        tr._write(repo, files)
        tr.commit_all(repo, f"template {tag}")
        tr.git(repo, "tag", tag)
    return repo


@pytest.fixture(scope="module")
def readme_templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Today's template and a release that rewrites README sections; the same without
    the section markers."""
    base = tmp_path_factory.mktemp("readme")
    return {
        "marked": two_releases(base / "marked", tr.today()),
        "plain": two_releases(base / "plain", without_markers(tr.today())),
    }


def add_own_sections(project: Path) -> None:
    readme = project / "README.md"
    text = readme.read_text(encoding="utf-8")
    assert text.count(MIDDLE_AFTER) == 1
    readme.write_text(text.replace(MIDDLE_AFTER, MIDDLE_AFTER + OWN_MIDDLE) + OWN_END)
    tr.commit_all(project, "our README sections")


def test_readme_marker_pairs_are_regular(render: Callable[[dict[str, object]], Path]) -> None:
    """Every template section is one begin/end pair, in order, one blank line between
    pairs, covering every heading of the template; the prose names the markers."""
    for answers in ({}, {"extra_languages": ["r"], "deploy_target": "none"}):
        text = (render(answers) / "README.md").read_text(encoding="utf-8")
        markers = [(m.group(1), m.group(2)) for m in README_MARKER.finditer(text)]
        names = [name for end, name in markers if not end]
        assert markers == [(edge, name) for name in names for edge in ("", "/")], markers
        assert len(set(names)) == len(names)
        for name in names[1:]:
            assert f"\n\n<!-- groundwork: {name} -->\n" in text
            assert not re.search(rf"[^\n]\n<!-- groundwork: {name} -->", text)
        inside = re.sub(
            r"^<!-- groundwork: ([a-z-]+) -->\n.*?^<!-- /groundwork: \1 -->\n",
            "",
            text,
            flags=re.MULTILINE | re.DOTALL,
        )
        assert "\n## " not in inside, "a heading of the template outside its markers"
        assert "<!-- groundwork: NAME -->" in text


@pytest.mark.parametrize("manager", ["uv", "poetry", "conda-poetry"])
def test_readme_sections_of_your_own_survive_template_rewrites(
    readme_templates: dict[str, Path], tmp_path: Path, manager: str
) -> None:
    template = readme_templates["marked"]
    answers = {**ANSWERS, "dependency_manager": manager}
    project = tr.render(template, answers, tmp_path / "project", tr.OLD_TAG, init=True)
    add_own_sections(project)

    tr.update(project)

    assert tr.conflicted(project) == []
    assert tr.files_with_markers(project) == []
    fresh = tr.render(template, answers, tmp_path / "fresh", tr.NEW_TAG)
    theirs = (fresh / "README.md").read_text(encoding="utf-8")
    assert "## Documentation site" in theirs
    assert "rebuild it after changing" in theirs
    assert theirs.endswith("`CHANGELOG.md`.\n\n<!-- /groundwork: updating -->\n")
    assert "run the tests, then commit." in theirs
    expected = theirs.replace(MIDDLE_AFTER, MIDDLE_AFTER + OWN_MIDDLE) + OWN_END
    assert (project / "README.md").read_text(encoding="utf-8") == expected


def test_without_the_markers_the_same_sections_conflict(
    readme_templates: dict[str, Path], tmp_path: Path
) -> None:
    """The control: the same edits and releases, the README without its markers."""
    template = readme_templates["plain"]
    project = tr.render(template, ANSWERS, tmp_path / "project", tr.OLD_TAG, init=True)
    readme = project / "README.md"
    text = readme.read_text(encoding="utf-8")
    anchor = "\n## Docs site\n"
    assert text.count(anchor) == 1
    readme.write_text(
        text.replace(anchor, "\n" + OWN_MIDDLE.rstrip("\n") + "\n" + anchor) + OWN_END
    )
    tr.commit_all(project, "our README sections")

    tr.update(project)

    assert tr.conflicted(project) == ["README.md"]
    conflicts = re.findall(
        r"^<<<<<<< before updating\n(.*?)^=======\n", readme.read_text(encoding="utf-8"),
        re.MULTILINE | re.DOTALL,
    )  # fmt: skip
    assert any("Our deployment notes" in side for side in conflicts)
    assert any("Team contacts" in side for side in conflicts)


# --- which version Copier takes -----------------------------------------------------------------


def copy_default_ref(template: Path, dst: Path) -> str:
    """`copier copy` without --vcs-ref, as users run it; returns Copier's messages."""
    data = dst.parent / f"{dst.name}-answers.yml"
    data.write_text(yaml.safe_dump(ANSWERS), encoding="utf-8")
    messages = tr.copier("copy", "--defaults", f"--data-file={data}", str(template), str(dst))
    tr.git(dst, "init", "--quiet", "--initial-branch=main")
    tr.commit_all(dst, "start")
    return messages


def check_update(project: Path) -> int:
    return subprocess.run(
        [tool("copier"), "check-update", "--quiet"],
        cwd=project, env={**os.environ, **tr.GIT_ENV}, capture_output=True, check=False,
    ).returncode  # fmt: skip


def test_releases_are_tags_and_an_untagged_template_follows_its_latest_commit(
    template: Path, tmp_path: Path
) -> None:
    """What updating.md and troubleshooting.md say, as Copier does it: the newest tag,
    never a later untagged commit, while the template has tags; its latest commit when
    it has none. `copier check-update --quiet` exits 2 only when there is a newer one."""
    wording = ("run the tests and commit.", "run the tests, then commit.")

    def reword(repo: Path) -> None:
        readme = repo / "template" / "README.md.jinja"
        text = readme.read_text(encoding="utf-8")
        assert text.count(wording[0]) == 1
        readme.write_text(text.replace(*wording), encoding="utf-8")
        tr.commit_all(repo, "reword")

    tagged = tmp_path / "tagged"
    tr.git(tmp_path, "clone", "--quiet", str(template), str(tagged))
    reword(tagged)  # a commit after NEW_TAG, not tagged
    project = tmp_path / "project"
    copy_default_ref(tagged, project)
    assert answers_of(project)["_commit"] == tr.NEW_TAG
    assert wording[0] in (project / "README.md").read_text(encoding="utf-8")
    assert check_update(project) == 0
    tr.update(project)
    assert answers_of(project)["_commit"] == tr.NEW_TAG, "no update to an untagged commit"
    tr.git(tagged, "tag", "v1.2.0")
    assert check_update(project) == 2
    tr.update(project)
    assert answers_of(project)["_commit"] == "v1.2.0"
    assert wording[1] in (project / "README.md").read_text(encoding="utf-8")

    untagged = tmp_path / "untagged"
    untagged.mkdir()
    tr.git(untagged, "init", "--quiet", "--initial-branch=main")
    tr._write(untagged, tr.today())
    tr.commit_all(untagged, "no release yet")
    fork = tmp_path / "fork-project"
    messages = copy_default_ref(untagged, fork)
    assert "No git tags found in template; using HEAD as ref" in messages
    head = tr.git(untagged, "rev-parse", "--short", "HEAD").strip()
    assert answers_of(fork)["_commit"] == head
    reword(untagged)
    assert check_update(fork) == 2
    tr.update(fork)
    assert answers_of(fork)["_commit"] == tr.git(untagged, "rev-parse", "--short", "HEAD").strip()
    assert wording[1] in (fork / "README.md").read_text(encoding="utf-8")
