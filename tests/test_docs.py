"""Fast tier: the docs site builds in strict mode, with its pages generated from the template.

`docs/gen_pages.py` writes the questionnaire reference and the tables from copier.yml and
includes/, records the questionnaire in a pseudo-terminal, then runs `zensical build
--strict`, which fails on a broken internal link or anchor, a missing page in the nav or
a missing generated fragment.
"""

from __future__ import annotations

import fcntl
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import run, tool
from matrix import ROOT, choices, questionnaire

SITE = ROOT / "site"
DOCS = ROOT / "docs"
# mermaid 11 (12, which the site loads in the browser, needs Node 22) and a DOM for it.
MERMAID_PACKAGES = {"mermaid": "11.17.2", "jsdom": "25.0.1"}
MERMAID_DIR = ROOT / ".cache" / "mermaid"
MERMAID_SCRIPT = ROOT / "tests" / "mermaid_check.mjs"
PAGES = [
    "index.html",
    "getting-started/index.html",
    "reference/questionnaire/index.html",
    "managers/index.html",
    "languages/index.html",
    "docker/index.html",
    "deploy/index.html",
    "troubleshooting/index.html",
    "benchmarks/index.html",
    "design/index.html",
    "ci-and-deploy/index.html",
]


def test_docs_site_builds_strict_with_generated_pages(mermaid_modules: Path) -> None:
    """One build (it writes into docs/ and site/), then everything that depends on it."""
    tool("zensical")
    run([sys.executable, str(DOCS / "gen_pages.py")], cwd=ROOT, timeout=600)

    for page in PAGES:
        html = (SITE / page).read_text(encoding="utf-8")
        # An include that did not happen would stay as a paragraph of its own.
        assert not re.search(r"<p>\s*--8&lt;--", html), f"{page}: a snippet was not included"

    # The questionnaire reference: every question in order, its help and every choice.
    reference = (DOCS / "reference" / "questionnaire.md").read_text(encoding="utf-8")
    assert re.findall(r"^## `(\w+)`$", reference, re.MULTILINE) == list(questionnaire())
    for name, spec in questionnaire().items():
        section = reference.split(f"## `{name}`", 1)[1].split("\n## ", 1)[0]
        assert " ".join(str(spec["help"]).split()) in section
        if "choices" in spec:
            for value in choices(name):
                assert f"| `{value}` |" in section, (name, value)

    # The terminal picture is a recorded session of this questionnaire.
    svg = (SITE / "assets" / "questionnaire.svg").read_text(encoding="utf-8")
    assert svg.startswith("<svg")
    text = re.sub(r"<[^>]+>", "", svg).replace("&#x27;", "'")
    for name in ["project_name", "project_kind", "deploy_target"]:
        first_line = str(questionnaire()[name]["help"]).splitlines()[0]
        assert first_line.split(" (")[0] in text, name
    assert "Churn Model" in text

    # Mermaid draws diagrams in the browser: parse each one here, so none fails there.
    sources = sorted(DOCS.glob("*.md")) + sorted((DOCS / ".generated").glob("*.md"))
    with_diagrams = [path for path in sources if "```mermaid" in path.read_text(encoding="utf-8")]
    assert len(with_diagrams) >= 5, with_diagrams
    result = run(["node", str(MERMAID_SCRIPT), str(mermaid_modules), *map(str, with_diagrams)])
    assert "FAIL" not in result.stdout
    assert result.stdout.count("ok ") >= len(with_diagrams)


def test_readme_links_to_the_docs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/index.md" in readme
    assert "docs/gen_pages.py" in readme


@pytest.fixture(scope="session")
def mermaid_modules() -> Path:
    """node_modules with mermaid and jsdom, installed once (file-locked for xdist)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are not installed: mermaid cannot parse the diagrams")
    MERMAID_DIR.mkdir(parents=True, exist_ok=True)
    modules = MERMAID_DIR / "node_modules"
    with (MERMAID_DIR / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        installed = all(
            (modules / name / "package.json").is_file()
            and json.loads((modules / name / "package.json").read_text())["version"] == version
            for name, version in MERMAID_PACKAGES.items()
        )
        if not installed:
            specs = [f"{name}@{version}" for name, version in MERMAID_PACKAGES.items()]
            run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(MERMAID_DIR), *specs])
    return modules


def test_a_broken_diagram_is_caught(mermaid_modules: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.md"
    broken.write_text("```mermaid\nflowchart LR\n  a -->|x|\n```\n", encoding="utf-8")
    result = subprocess.run(
        ["node", str(MERMAID_SCRIPT), str(mermaid_modules), str(broken)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert "FAIL" in result.stdout
