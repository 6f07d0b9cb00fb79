"""Helpers shared by the test modules: parametrizing, running tools, strict mode.

Strict mode (`GROUNDWORK_STRICT=1`, set by .ci/run): a test of the install or docker tier
that skips because something is missing fails instead, so CI can never pass by skipping.
Only skips whose reason starts with `OFFLINE_SKIP` stay skips: what no machine without
conda channels, crates.io or CRAN can run.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import pytest
import yaml

from matrix import ROOT, Answers, combo_id

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

STRICT = os.environ.get("GROUNDWORK_STRICT") == "1"
# Reasons that remain skips under strict mode: the registry or channel is unreachable here.
OFFLINE_SKIP = "offline:"
BIN = Path(sys.executable).parent


def params(rows: Iterable[Answers]) -> list[Any]:
    """pytest params with readable ids, grouped per combination for xdist."""
    return [
        pytest.param(row, id=combo_id(row), marks=pytest.mark.xdist_group(combo_id(row)))
        for row in rows
    ]


def tool(name: str) -> str:
    """Path of a command-line tool: the test environment's own first, then PATH."""
    candidate = BIN / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (install the dev group: see README.md)")
    return found


def run(
    args: list[str],
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: int = 900,
    base_env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure, fail the test with its output.

    `env` is added to `base_env` (default: this process's environment).
    """
    result = subprocess.run(
        args,
        cwd=cwd,
        env={**(os.environ if base_env is None else base_env), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"command failed ({result.returncode}): {' '.join(args)}\n"
            f"--- stdout ---\n{result.stdout[-6000:]}\n--- stderr ---\n{result.stderr[-6000:]}",
            pytrace=False,
        )
    return result


@cache
@cache
def noxfile_tasks(project: Path) -> dict[str, list[str]]:
    """The TASKS table of a rendered noxfile.py: task name -> its command lines."""
    module = ast.parse((project / "noxfile.py").read_text(encoding="utf-8"))
    for node in module.body:
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "TASKS":
            assert node.value is not None
            tasks: dict[str, list[str]] = ast.literal_eval(node.value)
            return tasks
    raise AssertionError("noxfile.py has no TASKS table")


def include_module(name: str) -> Any:
    """The module of `includes/<name>.jinja`, with Copier's filters: its tables and macros."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(ROOT)),
        autoescape=False,
        extensions=["jinja2_ansible_filters.AnsibleCoreFiltersExtension"],
    )
    return env.get_template(f"includes/{name}.jinja").module


class CloudFormationLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short forms (`!Sub x`) read as long ones (`{"Fn::Sub": x}`)."""


def _cloudformation_function(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


CloudFormationLoader.add_multi_constructor("!", _cloudformation_function)
