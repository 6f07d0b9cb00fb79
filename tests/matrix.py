"""The test matrix, built from copier.yml itself so that a new choice is tested at once.

`choices(question)` lists a question's values as copier.yml declares them; `is_valid`
mirrors the questionnaire's rules (and is itself tested against Copier); the named
matrices below are what the test modules parametrize over.
"""

from __future__ import annotations

import itertools
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
COPIER_YML = ROOT / "copier.yml"

Answers = dict[str, Any]


@cache
def questionnaire() -> dict[str, Any]:
    data = yaml.safe_load(COPIER_YML.read_text(encoding="utf-8"))
    return {key: value for key, value in data.items() if not key.startswith("_")}


def choices(question: str) -> list[Any]:
    """The values of a choice question, in copier.yml's order."""
    declared = questionnaire()[question]["choices"]
    if isinstance(declared, list):
        return list(declared)
    values = []
    for value in declared.values():
        values.append(value["value"] if isinstance(value, dict) else value)
    return values


# Fixed identity answers used by every matrix render (the free-text tests vary them).
BASE: Answers = {
    "project_name": "Demo Project",
    "package_name": "demo_project",
    "author_name": "Ada Lovelace",
    "author_email": "ada@example.com",
}

DEFAULTS: Answers = {
    "license": "MIT",
    "project_kind": "library",
    "extra_languages": [],
    "dependency_manager": "uv",
    "python_version": "3.13",
}


def default_deploy_target(kind: str) -> str:
    return {"library": "pypi", "pipeline": "aws", "service": "aws"}[kind]


def is_valid(answers: Answers) -> bool:
    """The questionnaire's cross-question rules (checked against Copier in the tests)."""
    kind = answers.get("project_kind", "library")
    target = answers.get("deploy_target", default_deploy_target(kind))
    languages = answers.get("extra_languages", [])
    if kind == "service" and target == "pypi":
        return False
    if kind == "library" and target in {"aws", "gcp", "azure"}:
        return False
    return not ("cpp" in languages and "rust" in languages)


def complete(answers: Answers) -> Answers:
    """Fill in the defaults the questionnaire would pick."""
    full = {**BASE, **DEFAULTS, **answers}
    full.setdefault("deploy_target", default_deploy_target(full["project_kind"]))
    if "dependency_manager" not in answers and full["extra_languages"]:
        full["dependency_manager"] = "conda-poetry"
    return full


def combo_id(answers: Answers) -> str:
    """A short readable id: only the answers that differ from the defaults."""
    full = complete(answers)
    parts = [
        full["dependency_manager"],
        full["project_kind"],
        "py" + full["python_version"],
        full["deploy_target"],
    ]
    if full["extra_languages"]:
        parts.append("+".join(full["extra_languages"]))
    if full["license"] != "MIT":
        parts.append(full["license"])
    return "-".join(parts)


def language_sets() -> list[list[str]]:
    """No extra language, each one alone, and the mixes people use."""
    single = [[language] for language in choices("extra_languages")]
    return [[], *single, ["r", "node"], ["cpp", "node"], ["r", "rust", "node"]]


def pairwise(factors: dict[str, list[Any]]) -> list[Answers]:
    """Greedy all-pairs: every valid pair of values of any two factors appears in a row."""
    names = list(factors)

    def key(value: Any) -> Any:
        return tuple(value) if isinstance(value, list) else value

    def pairs_of(row: Answers) -> set[tuple[Any, ...]]:
        return {(a, key(row[a]), b, key(row[b])) for a, b in itertools.combinations(names, 2)}

    candidates = [
        dict(zip(names, values, strict=True)) for values in itertools.product(*factors.values())
    ]
    candidates = [row for row in candidates if is_valid(row)]
    uncovered: set[tuple[Any, ...]] = set().union(*(pairs_of(row) for row in candidates))
    rows: list[Answers] = []
    while uncovered:
        best = max(candidates, key=lambda row: len(pairs_of(row) & uncovered))
        rows.append(best)
        uncovered -= pairs_of(best)
    return rows


@cache
def pairwise_matrix() -> list[Answers]:
    factors: dict[str, list[Any]] = {
        "dependency_manager": choices("dependency_manager"),
        "project_kind": choices("project_kind"),
        "deploy_target": choices("deploy_target"),
        "python_version": choices("python_version"),
        "license": choices("license"),
        "extra_languages": language_sets(),
    }
    return [complete(row) for row in pairwise(factors)]


def manager_x_kind() -> list[Answers]:
    return [
        complete({"dependency_manager": manager, "project_kind": kind})
        for manager in choices("dependency_manager")
        for kind in choices("project_kind")
    ]


def manager_x_python() -> list[Answers]:
    return [
        complete({"dependency_manager": manager, "python_version": version})
        for manager in choices("dependency_manager")
        for version in choices("python_version")
    ]


def kind_for_target(target: str) -> str:
    """A project kind that can deploy to the target."""
    return {"none": "library", "pypi": "library", "ghcr": "service"}.get(target, "service")


def manager_x_target() -> list[Answers]:
    return [
        complete(
            {
                "dependency_manager": manager,
                "deploy_target": target,
                "project_kind": kind_for_target(target),
            }
        )
        for manager in choices("dependency_manager")
        for target in choices("deploy_target")
    ]


def unique(rows: list[Answers]) -> list[Answers]:
    seen: dict[str, Answers] = {}
    for row in rows:
        seen.setdefault(combo_id(row), row)
    return list(seen.values())


@cache
def all_static_renders() -> list[Answers]:
    """Every combination the fast tier renders and judges."""
    return unique(pairwise_matrix() + manager_x_kind() + manager_x_python() + manager_x_target())
