"""Fast tier: one set of task names for every manager, and the docs site's workflow.

Every render has a noxfile.py whose tasks (install, lock, test, lint, format, typecheck,
docs, image) run the manager's own commands from includes/managers.jinja and
includes/ci.jinja; README's "Everyday commands" and CI's `run:` steps call those tasks
(test_workflows.py follows each `nox -s` into the noxfile; the install tier runs them).
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from importlib import metadata
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from helpers import include_module, noxfile_tasks, params, tool
from matrix import Answers, all_static_renders, choices, complete

if TYPE_CHECKING:
    from pathlib import Path

RENDERS = params(all_static_renders())
TASKS = ["install", "lock", "test", "lint", "format", "typecheck", "docs", "image"]


def prepare_commands(manager: str) -> list[str]:
    """A PyPI manager's `prepare` without `pyenv install`, then CI's extra; [] otherwise."""
    m = include_module("managers").managers[manager]
    c = include_module("ci").ci[manager]
    if m["family"] != "pypi":
        return []
    return [cmd for cmd in m["prepare"] if not cmd.startswith("pyenv ")] + c["prepare"]


def task_list(full: Answers) -> list[str]:
    """The tasks of a render: the everyday ones, `prepare` where the manager has one, those
    of its kind, its deploy target (`infra`) and its manager (`providers`), before `image`."""
    tasks = include_module("tasks")
    kind, manager = full["project_kind"], full["dependency_manager"]
    own = {name for name, task in tasks.env_tasks.items() if kind in task.get("kinds", [])}
    own |= {n for n, task in tasks.tool_tasks.items() if full["deploy_target"] in task["targets"]}
    own |= {n for n, task in tasks.code_tasks.items() if manager in task["managers"]}
    if prepare_commands(manager):
        own.add("prepare")
    return [name for name in tasks.task_order if name in TASKS or name in own]


def expected_tasks(full: Answers) -> dict[str, list[str]]:
    """What each task runs, from the tables (not from the template that renders them):
    what it installs, the check, then its tools."""
    manager = full["dependency_manager"]
    m = include_module("managers").managers[manager]
    languages = include_module("languages")
    prepare = prepare_commands(manager)
    backend = str(languages.build_backend(full["extra_languages"], m["backend"]))
    native = manager in languages.native_install and backend in {"scikit-build", "maturin"}

    def installs(name: str) -> list[str]:
        with_package = name.startswith("project") or name == "all"
        extra = [languages.native_install[manager]] if native and with_package else []
        environment = m["environments"].get(name, "")
        check = [command.replace("{tools}", environment) for command in m["check"]]
        return [*m["sets"][name], *extra, *check]

    image = full["package_name"].replace("_", "-")
    publish = "--publish 8000:8000 " if full["project_kind"] == "service" else ""
    tasks = include_module("tasks")
    everything: dict[str, list[str]] = {
        "install": prepare + installs("all"),
        "prepare": prepare,
        "lock": m["lock_first"] + prepare + m["lock"],
        "image": [f"docker build --tag {image} .", f"docker run --rm {publish}{image}"],
    }
    for name, task in tasks.env_tasks.items():
        name_installs = task.get("installs", "project")
        prefix = m["run_in"].replace("{tools}", m["environments"].get(name_installs, ""))
        everything[name] = installs(name_installs) + [
            prefix + cmd.replace("{cli}", image) for cmd in task["commands"]
        ]
    for name, task in tasks.tool_tasks.items():
        everything[name] = list(task["commands"])
    return {name: everything[name] for name in task_list(full) if name not in tasks.code_tasks}


@pytest.mark.parametrize("answers", RENDERS)
def test_noxfile_runs_the_managers_commands(render, answers: Answers) -> None:
    full = complete(answers)
    project = render(full)
    tasks = noxfile_tasks(project)
    code = include_module("tasks").code_tasks
    assert list(tasks) == [name for name in task_list(full) if name not in code]
    assert tasks == expected_tasks(full)
    assert (project / "noxfile.py").stat().st_mode & 0o111, "executable (its shebang)"


@pytest.mark.parametrize("answers", RENDERS)
def test_readme_lists_every_task(render, answers: Answers) -> None:
    full = complete(answers)
    readme = (render(full) / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Everyday commands", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    names = task_list(full)
    # The block: the commands that run as they are; tasks that need arguments (train,
    # backfill) have an example in their own section.
    env_tasks = include_module("tasks").env_tasks
    runnable = [name for name in names if not env_tasks.get(name, {}).get("needs_args")]
    assert block.splitlines() == [f"nox -s {name}" for name in runnable]
    for name in set(names) - set(runnable):
        assert re.search(rf"^nox -s {name} -- --\w", readme, re.MULTILINE), name
    rows = re.findall(r"^\| `(\w+)` \| .* \| (.*) \|$", section, re.MULTILINE)
    assert [name for name, _ in rows] == names
    tasks = noxfile_tasks(render(full))
    for name, commands in rows:
        if name not in tasks:  # a task written in Python (providers): no commands
            assert name in include_module("tasks").code_tasks, name
            continue
        shown = re.findall(r"`([^`]+)`", commands)
        assert shown == [c.replace("{python}", full["python_version"]) for c in tasks[name]]


@pytest.mark.parametrize(
    "answers", params(complete({"dependency_manager": m}) for m in choices("dependency_manager"))
)
def test_nox_lists_the_tasks(render, answers: Answers) -> None:
    """nox itself reads the noxfile: every task, with its one-line description."""
    project = render(complete(answers))
    result = subprocess.run(
        [tool("nox"), "--list", "--no-color"],
        cwd=project, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    listed = re.findall(r"^([*-]) (\w+) -> (.+)$", result.stdout, re.MULTILINE)
    full = complete(answers)
    assert [name for _, name, _ in listed] == task_list(full)
    defaults = {name for mark, name, _ in listed if mark == "*"}
    checks = {"lint", "typecheck", "test"}
    if full["dependency_manager"] in include_module("tasks").code_tasks["providers"]["managers"]:
        checks.add("providers")
    assert defaults == checks, "`nox` alone runs the checks"


def test_ci_pins_the_tested_nox() -> None:
    """CI and the dev container install the nox these tests ran."""
    runner = include_module("tasks").runner
    assert runner["name"] == "nox"
    assert runner["version"] == metadata.version("nox")


# --- the docs site and its Pages workflow ----------------------------------------------


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    if True in data:
        data["on"] = data.pop(True)
    return data


@pytest.mark.parametrize(
    "answers",
    params(
        complete({"dependency_manager": m, "license": lic})
        for m, lic in zip(choices("dependency_manager"), ["MIT", "Proprietary"] * 4, strict=True)
    ),
)
def test_docs_site_and_pages_workflow(render, answers: Answers) -> None:
    full = complete(answers)
    project = render(full)
    config = tomllib.loads((project / "zensical.toml").read_text(encoding="utf-8"))["project"]
    assert config["site_name"] == full["project_name"]
    for page in [next(iter(entry.values())) for entry in config["nav"]]:
        assert (project / config["docs_dir"] / page).is_file(), page
    reference = (project / "docs" / "reference.md").read_text(encoding="utf-8")
    assert f"::: {full['package_name']}\n" in reference
    assert config["plugins"]["mkdocstrings"]["handlers"]["python"]["paths"] == ["src"]
    gitignore = (project / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert {"site/", ".cache/"} <= set(gitignore)

    pages = project / ".github" / "workflows" / "docs.yml"
    readme = (project / "README.md").read_text(encoding="utf-8")
    if full["license"] == "Proprietary":
        assert not pages.exists(), "a proprietary repository's docs are not published"
        assert "built but not published" in readme
        return
    workflow = load(pages)
    assert workflow["on"]["push"] == {"branches": ["main"]}
    assert workflow["permissions"] == {"contents": "read"}
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    assert "permissions" not in build
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"
    assert deploy["needs"] == "build"
    steps = {step["name"]: step for step in build["steps"]}
    assert steps["Build the docs site (strict)"]["run"] == "nox -s docs"
    assert steps["Upload the site"]["with"]["path"] == config["site_dir"]
    assert [step["uses"].split("@")[0] for step in deploy["steps"]] == ["actions/deploy-pages"]
    assert ".github/workflows/docs.yml" in readme
