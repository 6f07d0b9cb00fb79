"""Regenerate the golden examples: renders of the template, committed under examples/.

    .venv/bin/python examples/regenerate.py          # rewrite examples/ from the template
    .venv/bin/python examples/regenerate.py --check  # only report what is stale (exit 1)

Each example is the template as it is in the working tree (committed or not), rendered
with the answers in EXAMPLES below; together they cover every dependency manager, project
kind, deploy target and extra language. A change to the template therefore shows, in its
own diff under examples/, what rendered repositories receive; tests/test_examples.py fails
while examples/ is stale.

The output depends on nothing but the template and these answers: the template is copied
to a temporary folder outside git, so the answers file records no commit, and its
`_src_path` is replaced by SRC_PATH, the form a real project records.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "examples"
TEMPLATE_PARTS = ("copier.yml", "includes", "template")
SRC_PATH = "gh:OWNER/groundwork"

IDENTITY = {
    "project_name": "Demo Project",
    "package_name": "demo_project",
    "description": "A data and ML project started from groundwork",
    "author_name": "Ada Lovelace",
    "author_email": "ada@example.com",
}

# name -> the answers that differ from the questionnaire's defaults.
EXAMPLES: dict[str, dict[str, Any]] = {
    "uv-library-pypi": {"dependency_manager": "uv", "project_kind": "library"},
    "poetry-service-aws": {"dependency_manager": "poetry", "project_kind": "service"},
    "pdm-pipeline-gcp": {
        "dependency_manager": "pdm",
        "project_kind": "pipeline",
        "deploy_target": "gcp",
        "python_version": "3.12",
    },
    "pipenv-service-azure": {
        "dependency_manager": "pipenv",
        "project_kind": "service",
        "deploy_target": "azure",
    },
    "pip-library-ghcr": {
        "dependency_manager": "pip",
        "project_kind": "library",
        "deploy_target": "ghcr",
        "license": "Apache-2.0",
    },
    "conda-pipeline-none-r": {
        "dependency_manager": "conda",
        "project_kind": "pipeline",
        "deploy_target": "none",
        "extra_languages": ["r"],
    },
    "conda-poetry-service-aws-cpp-node": {
        "dependency_manager": "conda-poetry",
        "project_kind": "service",
        "extra_languages": ["cpp", "node"],
    },
    "pixi-pipeline-aws-rust": {
        "dependency_manager": "pixi",
        "project_kind": "pipeline",
        "extra_languages": ["rust"],
        "python_version": "3.11",
    },
}


def render_all(target: Path) -> None:
    """Render every example into `target` (which must not exist), plus the README."""
    from copier import run_copy

    target.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as temporary:
        source = Path(temporary) / "groundwork"
        for part in TEMPLATE_PARTS:
            path = ROOT / part
            if path.is_dir():
                shutil.copytree(path, source / part, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                source.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, source / part)
        for name, answers in EXAMPLES.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                run_copy(
                    str(source),
                    target / name,
                    data={**IDENTITY, **answers},
                    defaults=True,
                    quiet=True,
                )
            answers_file = target / name / ".copier-answers.yml"
            text = answers_file.read_text(encoding="utf-8")
            answers_file.write_text(
                text.replace(f"_src_path: {source}\n", f"_src_path: {SRC_PATH}\n"),
                encoding="utf-8",
            )
    (target / "README.md").write_text(readme(), encoding="utf-8")


def readme() -> str:
    rows = "\n".join(
        f"| [`{name}`]({name}/) | {', '.join(f'`{k}={v}`' for k, v in answers.items())} |"
        for name, answers in EXAMPLES.items()
    )
    return f"""# Golden examples

Renders of the template, committed so that every change to the template shows, in its own
diff, what rendered repositories receive on `copier update`. Do not edit them by hand:
regenerate them with

```bash
.venv/bin/python examples/regenerate.py
```

`tests/test_examples.py` fails while they are stale. Each was rendered with the identity
answers in `regenerate.py` and these (the rest are the questionnaire's defaults):

| Example | Answers |
| --- | --- |
{rows}

Their `.copier-answers.yml` records `_src_path: {SRC_PATH}` and no `_commit`, since they
are rendered from the working tree rather than from a release.
"""


def files(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def committed() -> dict[str, bytes]:
    """What examples/ holds now for git (tracked, or new and not ignored), but this script;
    caches that tools leave in an example are ignored by its own .gitignore."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", "--", "."],
        cwd=HERE,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return {
        name: (HERE / name).read_bytes()
        for name in filter(None, listed.split("\0"))
        if name != "regenerate.py" and (HERE / name).is_file()
    }


def stale(rendered: Path) -> list[str]:
    """Paths under examples/ that differ from a fresh render (missing, extra or changed)."""
    want, have = files(rendered), committed()
    return sorted(name for name in set(want) | set(have) if want.get(name) != have.get(name))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="only report stale files")
    check = parser.parse_args().check
    with tempfile.TemporaryDirectory() as temporary:
        rendered = Path(temporary) / "examples"
        render_all(rendered)
        differ = stale(rendered)
        if check:
            for name in differ:
                print(f"stale: examples/{name}")
            return 1 if differ else 0
        for child in HERE.iterdir():
            if child.name != "regenerate.py":
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        for child in rendered.iterdir():
            shutil.move(str(child), HERE / child.name)
        print(f"examples/: {len(EXAMPLES)} renders, {len(differ)} files changed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
