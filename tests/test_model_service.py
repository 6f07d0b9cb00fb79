"""Install tier: a rendered service trains a model, serves it from MODEL_URI, refuses bad ones.

One service render (uv; the managers' own install tests run the generated tests for every
manager) is locked and installed as README.md says. Then, as a user would:

- train a model from a generated CSV with README.md's own `nox -s train -- ...` line;
- start `serve` (README's command) with that MODEL_URI and compare /predict with
  predictions computed here, independently, from the artifact's JSON, and with the
  relation the data was generated from;
- a missing, malformed or wrongly shaped MODEL_URI makes `serve` exit non-zero with one
  line on stderr that names the location, before it serves;
- on a local S3 (moto): train writes to s3://, serve reads from it, and a missing key
  fails with one line.

Waiting for the server polls /health with a generous deadline; no timing is asserted.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import shlex
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest

import lockers
from aws_stack import free_port
from matrix import complete

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from aws_stack import Moto

pytestmark = [pytest.mark.install, pytest.mark.xdist_group("model-service")]

PYTHON = "3.13"
ANSWERS = complete(
    {"project_kind": "service", "dependency_manager": "uv", "python_version": PYTHON}
)
CLI = ANSWERS["package_name"].replace("_", "-")
# The relation in the generated data: y = 1.5 x1 - 2 x2 + 0.25 x3 + 4 (+ small noise).
TRUE_WEIGHTS = (1.5, -2.0, 0.25)
TRUE_BIAS = 4.0
ROWS = [[0.0, 0.0, 0.0], [1.0, 2.0, 3.0], [-3.5, 10.0, 0.125]]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, render: Any) -> Path:
    """The service, locked and installed with README.md's commands, and a training CSV."""
    target = tmp_path_factory.mktemp("model-service") / "project"
    shutil.copytree(render(ANSWERS), target)
    lockers.lock(target, "uv", PYTHON)
    lockers.install(target, "uv", PYTHON)
    generator = random.Random(7)
    with (target / "rows.csv").open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["x1", "x2", "x3", "y"])
        for _ in range(500):
            row = [generator.gauss(0, 1), generator.gauss(5, 3), generator.gauss(-2, 0.5)]
            y = sum(w * x for w, x in zip(TRUE_WEIGHTS, row, strict=True)) + TRUE_BIAS
            writer.writerow([*row, y + generator.gauss(0, 0.01)])
    return target


def readme_block(project: Path, command: str) -> list[str]:
    """The lines of README's "The model" code block."""
    readme = (project / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The model\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    lines = [line for line in block.splitlines() if command in line]
    assert len(lines) == 1, block
    return lines


def expected_predictions(artifact: dict[str, Any], rows: list[list[float]]) -> list[float]:
    """What the artifact's weights predict, computed here without the project's code."""
    mean = artifact["standardization"]["mean"]
    scale = artifact["standardization"]["scale"]
    return [
        artifact["bias"]
        + sum(
            w * (x - m) / s
            for w, x, m, s in zip(artifact["weights"], row, mean, scale, strict=True)
        )
        for row in rows
    ]


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def post(url: str, body: object) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@contextmanager
def serving(project: Path, command: str, env: dict[str, str]) -> Iterator[str]:
    """Run README's serve command on a free port; yield its base URL once /health answers."""
    port = free_port()
    args = [*shlex.split(command), "--port", str(port)]
    environment = {**lockers.manager_env(PYTHON), **env}
    server = subprocess.Popen(
        args, cwd=project, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                get(f"{base}/health")
                break
            except (urllib.error.URLError, OSError):
                if server.poll() is not None or time.monotonic() > deadline:
                    server.kill()
                    output = server.communicate()[0].decode(errors="replace")
                    pytest.fail(f"serve did not answer /health:\n{output[-3000:]}")
                time.sleep(0.3)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def serve_command(project: Path) -> tuple[dict[str, str], str]:
    """README's `MODEL_URI=... <exec> <cli> serve` line: its variable and its command."""
    (line,) = readme_block(project, f"{CLI} serve")
    assignment, command = line.split(" ", 1)
    name, value = assignment.split("=", 1)
    assert name == "MODEL_URI"
    return {name: value}, command


def test_train_then_serve_the_trained_model(project: Path) -> None:
    (train,) = readme_block(project, "nox -s train")
    lockers.shell(train, project, PYTHON)
    env, command = serve_command(project)
    artifact_path = project / env["MODEL_URI"]
    data = artifact_path.read_bytes()
    artifact = json.loads(data)
    assert artifact["training"]["rows"] == 500
    assert artifact["training"]["data"] == "rows.csv"
    assert artifact["features"] == ["x1", "x2", "x3"]

    with serving(project, command, env) as base:
        health = get(f"{base}/health")
        assert health == {
            "status": "ok",
            "model_version": artifact["version"],
            "model_checksum": f"sha256:{hashlib.sha256(data).hexdigest()}",
        }
        expected = expected_predictions(artifact, ROWS)
        for row, value in zip(ROWS, expected, strict=True):
            answer = post(f"{base}/predict", {"features": row})
            assert answer == {
                "prediction": pytest.approx(value),
                "model_version": artifact["version"],
            }
            # ...and the trained weights recovered the relation the data came from.
            truth = sum(w * x for w, x in zip(TRUE_WEIGHTS, row, strict=True)) + TRUE_BIAS
            assert answer["prediction"] == pytest.approx(truth, abs=0.05)


BAD_ARTIFACTS = {
    "missing": (None, "cannot read it"),
    "invalid JSON": ('{"format": "linear-model",', "not valid JSON"),
    "wrong shape": (
        json.dumps(
            {
                "format": "linear-model",
                "format_version": 1,
                "version": "bad",
                "features": ["a", "b", "c"],
                "standardization": {"mean": [0, 0, 0], "scale": [1, 1, 1]},
                "weights": [1, 2],
                "bias": 0,
            }
        ),
        "'weights' has 2 numbers, expected 3",
    ),
}


def check_fails_to_start(
    project: Path, command: str, env: dict[str, str], location: str, reason: str
) -> None:
    result = subprocess.run(
        [*shlex.split(command), "--port", str(free_port())],
        cwd=project,
        env={**lockers.manager_env(PYTHON), **env},
        capture_output=True,
        text=True,
        timeout=120,  # it must exit by itself, not serve
        check=False,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"{CLI} serve: error: model artifact {location}: "), lines
    assert reason in lines[0]


@pytest.mark.parametrize("case", list(BAD_ARTIFACTS))
def test_a_bad_model_uri_stops_serve_with_one_line(
    project: Path, tmp_path: Path, case: str
) -> None:
    content, reason = BAD_ARTIFACTS[case]
    location = tmp_path / "model.json"
    if content is not None:
        location.write_text(content, encoding="utf-8")
    _, command = serve_command(project)
    check_fails_to_start(project, command, {"MODEL_URI": str(location)}, str(location), reason)


def test_train_to_and_serve_from_s3(project: Path, moto: Moto) -> None:
    moto.client("s3").create_bucket(
        Bucket="models", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    uri = "s3://models/churn/model.json"
    (train,) = readme_block(project, "nox -s train")
    train = train.replace("models/model.json", uri) + " --model-version s3-1"
    result = subprocess.run(
        ["bash", "-c", train],
        cwd=project,
        env={**lockers.manager_env(PYTHON), **moto.env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    _, command = serve_command(project)
    data = moto.client("s3").get_object(Bucket="models", Key="churn/model.json")["Body"].read()
    artifact = json.loads(data)
    assert artifact["version"] == "s3-1"
    with serving(project, command, {**moto.env, "MODEL_URI": uri}) as base:
        health = get(f"{base}/health")
        assert health["model_version"] == "s3-1"
        assert health["model_checksum"] == f"sha256:{hashlib.sha256(data).hexdigest()}"
        answer = post(f"{base}/predict", {"features": ROWS[1]})
        assert answer["prediction"] == pytest.approx(expected_predictions(artifact, ROWS[1:])[0])
    missing = "s3://models/churn/absent.json"
    check_fails_to_start(
        project, command, {**moto.env, "MODEL_URI": missing}, missing, "cannot read it"
    )
