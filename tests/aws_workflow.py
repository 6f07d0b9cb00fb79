"""deploy.yml's AWS jobs, for the tests: what each job needs from AWS (read from the actions
it uses and the AWS CLI commands its scripts run), and its steps run here against moto.

A `run:` step executes as GitHub runs it (`bash --noprofile --norc -eo pipefail`, with
$GITHUB_OUTPUT, $RUNNER_TEMP, $GITHUB_STEP_SUMMARY and $GITHUB_REPOSITORY), in the
project (the job's checkout), its `${{ }}` expressions filled from the environment's
variables, the event and the outputs of the steps before it. The one action whose work
matters to the later steps, docker/build-push-action, is stood in for by `push_image`:
an image pushed to moto's ECR under the commit's tag, whose digest is the step's output.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import re
import subprocess
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aws_stack import (
    ACTION_PERMISSIONS,
    CLI_EXTRA,
    CLI_SERVICES,
    CLI_WAITERS,
    GITHUB_REPOSITORY,
    Moto,
    Readme,
    load_workflow,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

EXPRESSION = re.compile(r"\$\{\{ (.*?) \}\}")


# --- what a job needs from AWS ------------------------------------------------------------


def script_functions(project: Path) -> tuple[dict[str, str], dict[str, str]]:
    """infra/deploy.sh's functions (name -> body) and subcommands (name -> function)."""
    text = (project / "infra" / "deploy.sh").read_text(encoding="utf-8")
    functions = dict(re.findall(r"^(\w+)\(\) \{\n(.*?)^\}", text, re.MULTILINE | re.DOTALL))
    commands = dict(re.findall(r"^  (\w+)\) (\w+) ", text, re.MULTILINE))
    return functions, commands


def cli_actions(script: str) -> set[str]:
    """The IAM actions of the AWS CLI commands in a script."""
    needed: set[str] = set()
    for service, waiter, command in re.findall(r"\baws (\w+) (wait )?([a-z-]+)", script):
        name = ("Wait" if waiter else "") + command.title().replace("-", "")
        action = f"{CLI_SERVICES.get(service, service)}:{name}"
        action = CLI_WAITERS.get(action, action)
        needed |= {action, *CLI_EXTRA.get(action, set())}
    return needed


def script_actions(project: Path, subcommand: str) -> set[str]:
    """What `infra/deploy.sh <subcommand>` needs: its function and those it calls."""
    functions, commands = script_functions(project)
    seen: set[str] = set()
    todo = [commands[subcommand]]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += [f for f in functions if re.search(rf"\b{f}\b", functions[name])]
    return set().union(*(cli_actions(functions[name]) for name in seen))


def job_actions(project: Path, job_id: str) -> set[str]:
    """What a job of deploy.yml needs from AWS: its actions' and its scripts' calls."""
    needed: set[str] = set()
    for step in load_workflow(project)["jobs"][job_id]["steps"]:
        if "uses" in step:
            needed |= ACTION_PERMISSIONS[step["uses"].split("@")[0]]
        script = step.get("run", "")
        needed |= cli_actions(script)
        for subcommand in re.findall(r"\binfra/deploy\.sh (\w+)", script):
            needed |= script_actions(project, subcommand)
    return needed


# --- running a job's steps ----------------------------------------------------------------


@dataclass
class Job:
    """One job of deploy.yml, run step by step in `readme.project` against moto."""

    readme: Readme
    job_id: str
    variables: dict[str, str]
    event: dict[str, str]
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.job = load_workflow(self.readme.project)["jobs"][self.job_id]
        self.temp = self.readme.folder / f"runner-{self.job_id}"
        self.temp.mkdir(exist_ok=True)
        self.summary = self.temp / "summary.md"

    def step(self, prefix: str) -> dict[str, Any]:
        (found,) = [s for s in self.job["steps"] if s.get("name", "").startswith(prefix)]
        return dict(found)

    def value(self, expression: str) -> str:
        """A `${{ }}` expression's value: a context's field, or the first of `a || b` set."""
        for alternative in expression.split(" || "):
            head, _, rest = alternative.partition(".")
            if head == "vars":
                found = self.variables.get(rest, "")
            elif head == "steps":
                step_id, _, key = rest.partition(".outputs.")
                found = self.outputs.get(step_id, {}).get(key, "")
            else:
                found = self.event[alternative]
            if found:
                return found
        return ""

    def run(
        self, prefix: str, overrides: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Runs the `run:` step whose name starts with `prefix`; keeps its outputs."""
        step = self.step(prefix)
        env = {
            key: EXPRESSION.sub(lambda m: self.value(m.group(1)), str(value))
            for key, value in step.get("env", {}).items()
        }
        env |= overrides or {}
        output = self.temp / "output"
        output.write_text("", encoding="utf-8")
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=self.readme.project,
            env={
                **os.environ,
                **self.readme.moto.env,
                "PATH": self.readme.path,
                "GITHUB_OUTPUT": str(output),
                "GITHUB_STEP_SUMMARY": str(self.summary),
                "GITHUB_REPOSITORY": GITHUB_REPOSITORY,
                "RUNNER_TEMP": str(self.temp),
                **env,
            },
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if "id" in step:
            lines = output.read_text(encoding="utf-8").splitlines()
            self.outputs[step["id"]] = dict(line.split("=", 1) for line in lines if line)
        return result

    def ok(self, prefix: str, overrides: dict[str, str] | None = None) -> str:
        result = self.run(prefix, overrides)
        assert result.returncode == 0, f"{prefix}:\n{result.stdout}\n{result.stderr}"
        return result.stdout + result.stderr


def push_image(moto: Moto, repository: str, tag: str) -> str:
    """What the build step does, as moto's ECR sees it: a manifest pushed under `tag`."""
    layer = hashlib.sha256(tag.encode()).hexdigest()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 1024,
            "digest": f"sha256:{hashlib.sha256(layer.encode()).hexdigest()}",
        },
        "layers": [
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": 2048,
                "digest": f"sha256:{layer}",
            }
        ],
    }
    pushed = moto.client("ecr").put_image(
        repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag
    )
    return str(pushed["image"]["imageId"]["imageDigest"])


def image_tags(moto: Moto, repository: str) -> dict[str, list[str]]:
    """Digest -> its tags, sorted."""
    found = moto.client("ecr").describe_images(repositoryName=repository)["imageDetails"]
    return {d["imageDigest"]: sorted(d.get("imageTags", [])) for d in found}


@contextmanager
def health_server() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server standing in for the load balancer: `/health` answers 200 with a
    JSON body; the requested paths are recorded."""
    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            body = json.dumps({"status": "ok"}).encode()
            self.send_response(200 if self.path == "/health" else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()
