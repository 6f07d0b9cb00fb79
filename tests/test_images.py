"""Every test that builds an image decides whether it can in the same way (tests/images.py,
through the `docker_ready` fixture), so none fails where the others skip."""

from __future__ import annotations

import ast
import re

from matrix import ROOT


def _marks_docker(decorators: list[ast.expr]) -> bool:
    return any("mark.docker" in ast.unparse(decorator) for decorator in decorators)


def docker_tests() -> dict[str, list[str]]:
    """`module::test` -> the fixtures it requests, for every test of the docker tier."""
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        module = ast.parse(path.read_text(encoding="utf-8"))
        whole_module = any(
            isinstance(node, ast.Assign)
            and any(getattr(target, "id", "") == "pytestmark" for target in node.targets)
            and "mark.docker" in ast.unparse(node.value)
            for node in module.body
        )
        for node in module.body:
            if (
                isinstance(node, ast.FunctionDef)
                and node.name.startswith("test_")
                and (whole_module or _marks_docker(node.decorator_list))
            ):
                found[f"{path.name}::{node.name}"] = [arg.arg for arg in node.args.args]
    return found


def test_every_docker_test_asks_docker_ready_first() -> None:
    tests = docker_tests()
    assert len(tests) >= 6, tests  # test_docker.py's and the pipeline's image on moto
    for name, fixtures in tests.items():
        assert fixtures[:1] == ["docker_ready"], f"{name}: request docker_ready first"


def test_only_images_py_decides() -> None:
    """No test module probes Docker by itself (`docker info`, its own build command)."""
    for path in sorted((ROOT / "tests").glob("*.py")):
        if path.name in {"images.py", "test_images.py"}:
            continue
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"docker_cli\(\), \"info\"", text), (
            f"{path.name} probes Docker itself: use images.unavailable()"
        )
        assert not re.search(r"environ(\.get\(|\[)\"GROUNDWORK_DOCKER", text), (
            f"{path.name} reads the docker settings itself: use images.build_cli()/docker_cli()"
        )
