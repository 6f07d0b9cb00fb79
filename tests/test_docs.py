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
# One build per run: every test of this module on the same xdist worker.
pytestmark = pytest.mark.xdist_group("docs")


@pytest.fixture(scope="module")
def built() -> Path:
    tool("zensical")
    run([sys.executable, str(ROOT / "docs" / "gen_pages.py")], cwd=ROOT, timeout=600)
    return SITE


def test_strict_build_has_every_page(built: Path) -> None:
    for page in [
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
    ]:
        html = (built / page).read_text(encoding="utf-8")
        # An include that did not happen would stay as a paragraph of its own.
        assert not re.search(r"<p>\s*--8&lt;--", html), f"{page}: a snippet was not included"


def test_questionnaire_reference_lists_every_question_and_choice(built: Path) -> None:
    page = (ROOT / "docs" / "reference" / "questionnaire.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## `(\w+)`$", page, re.MULTILINE)
    assert headings == list(questionnaire())
    for name, spec in questionnaire().items():
        section = page.split(f"## `{name}`", 1)[1].split("\n## ", 1)[0]
        assert " ".join(str(spec["help"]).split()) in section
        if "choices" in spec:
            for value in choices(name):
                assert f"| `{value}` |" in section, (name, value)


def test_terminal_picture_is_a_recorded_session(built: Path) -> None:
    svg = (built / "assets" / "questionnaire.svg").read_text(encoding="utf-8")
    assert svg.startswith("<svg")
    text = re.sub(r"<[^>]+>", "", svg).replace("&#x27;", "'")
    for name in ["project_name", "project_kind", "deploy_target"]:
        first_line = str(questionnaire()[name]["help"]).splitlines()[0]
        assert first_line.split(" (")[0] in text, name
    assert "Churn Model" in text


def test_readme_links_to_the_docs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/index.md" in readme
    assert "docs/gen_pages.py" in readme


@pytest.fixture(scope="module")
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


def test_every_diagram_parses(built: Path, mermaid_modules: Path) -> None:
    """Mermaid draws diagrams in the browser: parse each one here, so none fails there."""
    sources = sorted(DOCS.glob("*.md")) + sorted((DOCS / ".generated").glob("*.md"))
    with_diagrams = [path for path in sources if "```mermaid" in path.read_text(encoding="utf-8")]
    assert len(with_diagrams) >= 5, with_diagrams
    script = ROOT / "tests" / "mermaid_check.mjs"
    result = run(["node", str(script), str(mermaid_modules), *map(str, with_diagrams)])
    assert "FAIL" not in result.stdout
    assert result.stdout.count("ok ") >= len(with_diagrams)


def test_a_broken_diagram_is_caught(mermaid_modules: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.md"
    broken.write_text("```mermaid\nflowchart LR\n  a -->|x|\n```\n", encoding="utf-8")
    script = ROOT / "tests" / "mermaid_check.mjs"
    result = subprocess.run(
        ["node", str(script), str(mermaid_modules), str(broken)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert "FAIL" in result.stdout
