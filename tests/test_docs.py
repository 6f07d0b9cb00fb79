"""Fast tier: the docs site builds strictly, is right for every project kind, and works
with the network off.

`docs/gen_pages.py` writes the questionnaire reference and the fragments from copier.yml
and includes/, records the questionnaire in a pseudo-terminal, copies the locked mermaid
into the site, then runs `zensical build --strict`, which fails on a broken internal link
or anchor in a page, a page missing from the nav or a missing generated fragment. One
build per test run (it writes into docs/ and site/); the tests below read its output and
hold it against real renders of the template (the `render` fixture: Copier itself).
"""

from __future__ import annotations

import html
import importlib.util
import json
import re
import subprocess
import sys
import tomllib
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from helpers import run, tool
from matrix import ROOT, choices, complete, is_valid, questionnaire

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

pytestmark = pytest.mark.xdist_group("docs-site")

SITE = ROOT / "site"
DOCS = ROOT / "docs"
MERMAID_SCRIPT = ROOT / "tests" / "mermaid_check.mjs"
SITE_SCRIPT = ROOT / "tests" / "site_check.mjs"
DEVELOPER_SECTION = "For template developers"


def gen_pages() -> Any:
    """docs/gen_pages.py as a module (its tables, the npm install, the location check)."""
    spec = importlib.util.spec_from_file_location("gen_pages", DOCS / "gen_pages.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """requirements/package-lock.json installed (mermaid, jsdom): the same mermaid the
    site serves. Skips without node and npm."""
    import shutil

    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are not installed: mermaid and jsdom cannot run")
    return Path(gen_pages().node_modules())


@pytest.fixture(scope="session")
def site(node_modules: Path) -> Path:
    """The site, built once by docs/gen_pages.py."""
    tool("zensical")
    run([sys.executable, str(DOCS / "gen_pages.py")], cwd=ROOT, timeout=900)
    return SITE


# --- the nav: user pages and design notes ----------------------------------------------


def site_config() -> dict[str, Any]:
    return tomllib.loads((ROOT / "zensical.toml").read_text(encoding="utf-8"))["project"]


def nav() -> list[tuple[str, str]]:
    """(section, page) of every page in zensical.toml's nav; section "" at the top."""
    config = site_config()

    def walk(items: list[Any], section: str) -> Iterator[tuple[str, str]]:
        for item in items:
            for title, value in item.items():
                if isinstance(value, list):
                    yield from walk(value, title)
                else:
                    yield section, value

    return list(walk(config["nav"], ""))


def built(page: str) -> Path:
    """The HTML file of a page of the nav ("deploy.md" -> site/deploy/index.html)."""
    return SITE / ("" if page == "index.md" else page.removesuffix(".md")) / "index.html"


def html_of(page: str) -> str:
    return built(page).read_text(encoding="utf-8")


def article_text(page: str) -> str:
    """The visible text of a built page's article (its included fragments too)."""
    text = html_of(page)
    body = text[text.index("<article") : text.index("</article>")]
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def user_pages() -> list[str]:
    return [page for section, page in nav() if section != DEVELOPER_SECTION]


def developer_pages() -> list[str]:
    return [page for section, page in nav() if section == DEVELOPER_SECTION]


# --- a small HTML tree, enough for tabs and code blocks ---------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


class Node:
    def __init__(self, tag: str, attrs: dict[str, str]) -> None:
        self.tag, self.attrs = tag, attrs
        self.children: list[Node | str] = []

    @property
    def classes(self) -> list[str]:
        return self.attrs.get("class", "").split()

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def elements(self) -> list[Node]:
        return [c for c in self.children if isinstance(c, Node)]

    def find_all(self, match: Callable[[Node], bool], nested: bool = True) -> list[Node]:
        """Descendants that match; with nested=False, not below a match."""
        found = []
        for child in self.elements():
            if match(child):
                found.append(child)
                if not nested:
                    continue
            found += child.find_all(match, nested)
        return found


class Tree(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("root", {})
        self.stack = [self.root]
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.stack) - 1, 0, -1):
            if self.stack[index].tag == tag:
                del self.stack[index:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def tab_sets(node: Node) -> list[dict[str, Node]]:
    """The outermost content-tab sets below node: label -> the tab's block."""
    sets = []
    for tabbed in node.find_all(lambda n: "tabbed-set" in n.classes, nested=False):
        labels = tabbed.find_all(lambda n: n.tag == "label" and "for" in n.attrs)
        content = next(n for n in tabbed.elements() if "tabbed-content" in n.classes)
        blocks = [n for n in content.elements() if "tabbed-block" in n.classes]
        titles = [label.text().strip() for label in labels[: len(blocks)]]
        sets.append(dict(zip(titles, blocks, strict=True)))
    return sets


def code_blocks(node: Node) -> list[str]:
    return [pre.text().strip() for pre in node.find_all(lambda n: n.tag == "pre")]


# --- the build ----------------------------------------------------------------------------


def test_the_site_builds_strictly_with_its_generated_pages(site: Path) -> None:
    for _, page in nav():
        text = html_of(page)
        # An include that did not happen would stay as a paragraph of its own.
        assert not re.search(r"<p>\s*--8&lt;--", text), f"{page}: a snippet was not included"

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
    svg = (site / "assets" / "questionnaire.svg").read_text(encoding="utf-8")
    assert svg.startswith("<svg")
    text = re.sub(r"<[^>]+>", "", svg).replace("&#x27;", "'")
    for name in ["project_name", "project_kind", "deploy_target"]:
        first_line = str(questionnaire()[name]["help"]).splitlines()[0]
        assert first_line.split(" (")[0] in text, name
    assert "Churn Model" in text


def test_every_page_is_in_the_nav(site: Path) -> None:
    """Pages added later (by any branch) are built and judged like these."""
    listed = {page for _, page in nav()}
    excluded = {"README.md"}  # what GitHub shows for the folder (zensical.toml)
    assert {p.name for p in DOCS.glob("*.md")} - excluded <= listed


def test_every_link_inside_the_site_resolves(site: Path) -> None:
    """Zensical checks the links of the pages' own Markdown, not of included fragments
    (the deploy set-ups, the release notes): every relative link of the built site must
    reach a file, and its anchor an id there."""
    broken = []
    ids: dict[Path, set[str]] = {}
    # 404.html links from the site's root path (site_url's), which GitHub Pages serves.
    prefix = re.sub(r"^https?://[^/]+", "", site_config()["site_url"])
    for page in sorted(site.rglob("*.html")):
        for ref in re.findall(r'(?:href|src)="([^"]+)"', page.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:|//|#$", ref):
                continue
            path, _, anchor = html.unescape(ref).partition("#")
            if path.startswith("/"):
                assert path.startswith(prefix), f"{page.relative_to(site)}: {ref}"
                target = (site / path.removeprefix(prefix)).resolve()
            else:
                target = (page.parent / path).resolve() if path else page
            if target.is_dir() or path.endswith("/"):
                target = target / "index.html"
            if not target.is_file():
                broken.append(f"{page.relative_to(site)}: {ref}")
                continue
            if anchor and target.suffix == ".html":
                if target not in ids:
                    ids[target] = set(re.findall(r'id="([^"]+)"', target.read_text("utf-8")))
                if anchor not in ids[target]:
                    broken.append(f"{page.relative_to(site)}: {ref} (no such anchor)")
    assert broken == []


# --- offline: nothing from outside the site -------------------------------------------------------

RESOURCE_TAGS = {"script": "src", "img": "src", "source": "src", "iframe": "src", "embed": "src",
                 "video": "src", "audio": "src", "object": "data"}  # fmt: skip
LINK_RELS_THAT_FETCH = {"stylesheet", "preconnect", "preload", "prefetch", "modulepreload",
                        "dns-prefetch", "icon", "manifest", "font"}  # fmt: skip


def test_the_built_site_references_no_outside_script_stylesheet_or_font(site: Path) -> None:
    """Statically: no tag that makes a browser fetch (scripts, stylesheets, fonts, images,
    preconnects) and no stylesheet points outside the site."""
    outside = []
    for page in sorted(site.rglob("*.html")):
        tree = Tree(page.read_text(encoding="utf-8")).root
        for node in tree.find_all(lambda n: n.tag in RESOURCE_TAGS or n.tag == "link"):
            if node.tag == "link":
                rels = set(node.attrs.get("rel", "").split())
                if not rels & LINK_RELS_THAT_FETCH:
                    continue  # canonical, alternate: addresses, not fetched
                ref = node.attrs.get("href", "")
            else:
                ref = node.attrs.get(RESOURCE_TAGS[node.tag], "")
            if re.match(r"(https?:)?//", ref):
                outside.append(f"{page.relative_to(site)}: <{node.tag}> {ref}")
        for style in re.findall(r"url\(([^)]*)\)", page.read_text(encoding="utf-8")):
            if re.match(r"['\"]?(https?:)?//", style):
                outside.append(f"{page.relative_to(site)}: url({style})")
    for sheet in sorted(site.rglob("*.css")):
        text = sheet.read_text(encoding="utf-8")
        for ref in re.findall(r"url\(([^)]*)\)|@import\s+([^;]+)", text):
            found = "".join(ref)
            if re.match(r"['\"]?(https?:)?//", found):
                outside.append(f"{sheet.relative_to(site)}: {found}")
    assert outside == []
    assert "fonts.googleapis.com" not in html_of("index.md")


def test_with_the_network_off_pages_fetch_nothing_outside_and_draw_their_diagrams(
    site: Path, node_modules: Path
) -> None:
    """Each page with a diagram, and the home page, loaded with its scripts running (jsdom,
    a local server, requests elsewhere refused): nothing is asked from outside the site,
    and the theme draws the diagrams with the site's own mermaid. The control, the same
    page without that script, must show the theme reaching for a CDN."""
    with_diagrams = [page for _, page in nav() if '<pre class="mermaid">' in html_of(page)]
    assert len(with_diagrams) >= 2, with_diagrams
    pages = [str(built(page).relative_to(site)) for page in ["index.md", *with_diagrams]]
    control = f"strip-mermaid:{pages[-1]}"
    result = run(["node", str(SITE_SCRIPT), str(node_modules), str(site), *pages, control],
                 timeout=600)  # fmt: skip
    reports = {report["page"]: report for report in map(json.loads, result.stdout.splitlines())}
    assert set(reports) == {*pages, control}
    for page in pages:
        report = reports[page]
        assert report["outside"] == [], page
        assert report["errors"] == [], (page, report["errors"])
        assert "assets/javascripts/mermaid.min.js" in report["local"], page
        assert report["mermaid"] == "object", page
        assert report["diagrams_left"] == 0, f"{page}: a diagram was not drawn"
    assert any("mermaid" in url for url in reports[control]["outside"]), reports[control]


def test_the_site_serves_the_locked_mermaid_the_tests_parse_with(
    site: Path, node_modules: Path
) -> None:
    lock = json.loads((ROOT / "requirements" / "package-lock.json").read_text(encoding="utf-8"))
    locked = lock["packages"]["node_modules/mermaid"]["version"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", locked), "an exact version"
    installed = json.loads((node_modules / "mermaid" / "package.json").read_text(encoding="utf-8"))
    assert installed["version"] == locked
    served = (site / "assets" / "javascripts" / "mermaid.min.js").read_bytes()
    assert served == (node_modules / "mermaid" / "dist" / "mermaid.min.js").read_bytes()
    for _, page in nav():
        if '<pre class="mermaid">' in html_of(page):
            assert "assets/javascripts/mermaid.min.js" in html_of(page), page


def test_every_diagram_parses(site: Path, node_modules: Path) -> None:
    """Mermaid draws diagrams in the browser: parse each one here with the same mermaid."""
    sources = sorted(DOCS.glob("*.md")) + sorted((DOCS / ".generated").glob("*.md"))
    with_diagrams = [path for path in sources if "```mermaid" in path.read_text(encoding="utf-8")]
    assert len(with_diagrams) >= 5, with_diagrams
    result = run(["node", str(MERMAID_SCRIPT), str(node_modules), *map(str, with_diagrams)])
    assert "FAIL" not in result.stdout
    assert result.stdout.count("ok ") >= len(with_diagrams)


def test_a_broken_diagram_is_caught(node_modules: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.md"
    broken.write_text("```mermaid\nflowchart LR\n  a -->|x|\n```\n", encoding="utf-8")
    result = subprocess.run(
        ["node", str(MERMAID_SCRIPT), str(node_modules), str(broken)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert "FAIL" in result.stdout


# --- right for every project kind ------------------------------------------------------------------


def readme_deploy_commands(project: Path) -> tuple[list[str], list[str]]:
    """The code blocks and the inline code of a rendered README's deploy set-up (from
    deploy.yml's sentence to the end of its section), in order."""
    readme = (project / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("`.github/workflows/deploy.yml` ") :]
    section = re.split(r"^<!-- /groundwork: |^## ", section, maxsplit=1, flags=re.MULTILINE)[0]
    fence = re.compile(r"^( *)```\w*\n(.*?)^\1```", re.MULTILINE | re.DOTALL)
    blocks = [
        "\n".join(line.removeprefix(indent) for line in block.splitlines()).strip()
        for indent, block in fence.findall(section)
    ]
    spans = re.findall(r"`([^`\n]+)`", fence.sub("", section))
    return blocks, [span.replace("\\|", "|") for span in spans]


def site_commands(node: Node) -> tuple[list[str], list[str]]:
    spans = [code.text() for code in node.find_all(lambda n: n.tag == "code")
             if code.text().strip() and not code.find_all(lambda n: n.tag == "span")
             and "\n" not in code.text()]  # fmt: skip
    return code_blocks(node), spans


def test_every_deploy_tab_is_the_rendered_readme_of_each_kind(
    site: Path, render: Callable[[dict[str, Any]], Path]
) -> None:
    """On the CI/CD page, each target's tab (and each project kind's tab inside it) has
    exactly the commands of the README that Copier renders for that target and kind; the
    AWS page has the AWS ones."""
    labels = gen_pages().table("deploy/targets").targets
    (deploy_tabs,) = [tabs for tabs in tab_sets(Tree(html_of("deploy.md")).root)
                      if labels["aws"]["label"] in tabs]  # fmt: skip
    aws_tabs = tab_sets(Tree(html_of("aws.md")).root)
    targets = [t for t in choices("deploy_target") if t != "none"]
    assert list(deploy_tabs) == [labels[t]["label"] for t in targets]
    checked = 0
    for target in targets:
        block = deploy_tabs[labels[target]["label"]]
        inner = tab_sets(block)
        kinds = [k for k in choices("project_kind")
                 if is_valid({"project_kind": k, "deploy_target": target})]  # fmt: skip
        for kind in kinds:
            expected = readme_deploy_commands(
                render({"project_kind": kind, "deploy_target": target})
            )
            assert expected[0] or expected[1], (target, kind)
            if inner:
                (tab,) = [b for label, b in inner[0].items()
                          if kind in label.lower().replace(",", " ").split()]  # fmt: skip
            else:
                tab = block
            assert site_commands(tab) == expected, f"{target}, {kind}: the site's commands differ"
            if target == "aws":
                (aws_tab,) = [b for label, b in aws_tabs[0].items() if kind in label.lower()]
                assert site_commands(aws_tab) == expected, f"AWS page, {kind}"
            checked += 1
    assert checked >= 8


def reference_rows() -> dict[tuple[str, str], str]:
    """(question, value) -> the Files cell of the questionnaire reference."""
    reference = (DOCS / "reference" / "questionnaire.md").read_text(encoding="utf-8")
    rows = {}
    for section in reference.split("\n## `")[1:]:
        name = section.split("`", 1)[0]
        for value, files in re.findall(r"^\| [^|]+ \| `([^`]+)` \| .*? \| ([^|\n]+) \|$",
                                       section, re.MULTILINE):  # fmt: skip
            rows[(name, value)] = files.strip()
    return rows


def parse_changes(cell: str, kinds: list[str]) -> dict[str, tuple[set[str], set[str]]]:
    """A Files cell -> per project kind, (added, removed)."""
    changes = {kind: (set(), set()) for kind in kinds}
    current = kinds
    for part in cell.split("; "):
        if match := re.match(r"([a-z]+(?: or [a-z]+)*): (.*)", part):
            current = match.group(1).split(" or ")
            part = match.group(2)
        paths = set(re.findall(r"`([^`]+)`", part))
        for kind in current:
            if part.startswith("adds "):
                changes[kind][0].update(paths)
            elif part.startswith("removes "):
                changes[kind][1].update(paths)
            else:
                assert part in {"the baseline", "no file: changes contents only"}, part
    return changes


def files_of(project: Path) -> set[str]:
    package = complete({})["package_name"]
    return {
        str(path.relative_to(project)).replace(package, "<package>")
        for path in project.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and ".git" not in path.parts
    }


def test_the_reference_file_lists_are_what_renders_add_or_remove(
    site: Path, render: Callable[[dict[str, Any]], Path]
) -> None:
    """Each choice's Files cell equals the difference between Copier's renders with and
    without it, against the baseline the page states."""
    baseline = {"dependency_manager": "uv", "deploy_target": "none"}
    reference = (DOCS / "reference" / "questionnaire.md").read_text(encoding="utf-8")
    assert "`dependency_manager: uv`" in reference
    assert "`deploy_target: none`" in reference
    rows = reference_rows()
    for question in ["license", "project_kind", "extra_languages", "dependency_manager",
                     "python_version", "deploy_target"]:  # fmt: skip
        for value in choices(question):
            cell = rows[(question, value)]
            answer = [value] if question == "extra_languages" else value
            if question == "deploy_target":
                kinds = [k for k in choices("project_kind")
                         if is_valid({"project_kind": k, "deploy_target": value})]  # fmt: skip
            else:
                kinds = [complete(baseline)["project_kind"]]
            for kind, (added, removed) in parse_changes(cell, kinds).items():
                before = files_of(render({**baseline, "project_kind": kind}))
                after = files_of(render({**baseline, "project_kind": kind, question: answer}))
                assert (added, removed) == (after - before, before - after), (question, value, kind)


# --- pages for users, notes for developers ---------------------------------------------------------------


def developer_words() -> re.Pattern[str]:
    """What only template developers talk about: issues, the test machine, how a thing was
    checked, the template's own test modules and functions."""
    names = set()
    for path in (ROOT / "tests").iterdir():
        if path.suffix in {".py", ".mjs"}:
            names.add(re.escape(path.name))
            names.update(re.findall(r"^def (test_\w+)", path.read_text(encoding="utf-8"),
                                    re.MULTILINE))  # fmt: skip
    words = [
        r"\bissues?\b",
        r"#\d+\b",
        r"\b(?:this|our|the test|a test) machine\b",
        r"\b(?:checked|verified|tried|seen|reproduced|tested|measured) (?:here|on this)\b",
        r"\bmoto\b",
        r"\bthe template's (?:own )?tests\b",
        *sorted(names),
    ]
    return re.compile("|".join(f"(?:{w})" for w in words), re.IGNORECASE)


def test_pages_for_users_carry_no_developer_notes(site: Path) -> None:
    """Every page outside the nav's design notes, as built (included fragments and the
    release notes too): no issue, no test machine, no test of the template's."""
    pattern = developer_words()
    found = {}
    for page in [*user_pages(), "reference/questionnaire.md"]:
        hits = sorted({m.group(0) for m in pattern.finditer(article_text(page))})
        if hits:
            found[page] = hits
    assert found == {}


def test_the_check_catches_developer_notes() -> None:
    pattern = developer_words()
    for note in ["as the issue asked", "checked on this machine", "see test_docs.py",
                 "fixed in #12", "moto does not roll back"]:  # fmt: skip
        assert pattern.search(note), note
    assert not pattern.search("Run the tests with `uv run pytest` in tests/test_core.py.")


def test_design_notes_name_no_issue_numbers(site: Path) -> None:
    for page in developer_pages():
        text = (DOCS / page).read_text(encoding="utf-8")
        assert not re.search(r"\b[Ii]ssues? \d+|#\d+\b", text), page


def test_the_docs_state_the_dockerfile_stages_as_rendered(
    render: Callable[[dict[str, Any]], Path],
) -> None:
    """Stage counts and stage names in every page agree with the rendered Dockerfiles of
    each build strategy (no "two stages, a builder and a runtime" after a change)."""
    stages = {}
    for name, answers in gen_pages().DOCKER_EXAMPLES.items():
        text = (render(answers) / "Dockerfile").read_text(encoding="utf-8")
        stages[name] = re.findall(r"^FROM \S+ AS (\S+)", text, re.MULTILINE)
    names = {stage for found in stages.values() for stage in found}
    counts = {len(found) for found in stages.values()}
    numbers = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
    wrong = []
    for path in [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"\b(one|two|three|four|five|six|\d+)(?:-| )stages?\b", text):
            count = numbers.get(match.group(1)) or int(match.group(1))
            if counts != {count}:
                wrong.append(f"{path.name}: {match.group(0)!r}, the Dockerfiles have {counts}")
        for match in re.finditer(r"`([\w-]+)` stages?\b|\b(builder)\b", text):
            stage = match.group(1) or match.group(2)
            if stage not in names:
                wrong.append(f"{path.name}: stage {stage!r} is not among {sorted(names)}")
    assert wrong == []


# --- one location, release notes, benchmarks, README ------------------------------------------------


def test_the_template_location_is_one_value_used_everywhere() -> None:
    module = gen_pages()
    url = module.template_url()
    found = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+)", url)
    assert found, url
    owner, name = found.groups()
    assert site_config()["site_url"] == f"https://{owner}.github.io/{name}/"
    assert module.location_mismatches() == []
    for path in (ROOT / "README.md", DOCS / "getting-started.md", DOCS / "updating.md"):
        assert url in path.read_text(encoding="utf-8"), path.name
    # What the check catches.
    for wrong in ["copier copy /path/to/groundwork x", "gh:ORG/groundwork",
                  "https://github.com/someone/groundwork.git"]:  # fmt: skip
        assert module.LOCATION.search(wrong), wrong


def test_the_release_notes_are_the_changelog_itself(site: Path) -> None:
    source = (DOCS / "changelog.md").read_text(encoding="utf-8")
    assert source.strip() == '--8<-- "CHANGELOG.md"', "included, not a copy"
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    built = article_text("changelog.md")
    for heading in re.findall(r"^#+ (.+)$", changelog, re.MULTILINE):
        assert re.sub(r"[`*]", "", heading) in built, heading


def test_benchmark_tables_mark_missed_targets() -> None:
    """A table with a Ratio and a Target column says, per row, whether the target is met."""
    text = (DOCS / "benchmarks.md").read_text(encoding="utf-8")
    tables = re.findall(r"((?:^\|.*\|\n)+)", text, re.MULTILINE)
    judged = 0
    for table in tables:
        rows = [
            [cell.strip() for cell in line.strip("|\n").split("|")] for line in table.splitlines()
        ]
        header = rows[0]
        if "Ratio" not in header or "Target" not in header:
            continue
        assert "Met" in header, f"a table with targets marks them: {header}"
        ratio, target, met = header.index("Ratio"), header.index("Target"), header.index("Met")
        for row in rows[2:]:
            bound = re.fullmatch(r"at (most|least) ([\d.]+)", row[target])
            if not bound:
                assert row[met] == "", row
                continue
            value, limit = float(row[ratio]), float(bound.group(2))
            ok = value <= limit if bound.group(1) == "most" else value >= limit
            assert row[met] == ("yes" if ok else "**no**"), row
            judged += 1
    assert judged >= 2


def test_readme_points_to_the_site() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    config = site_config()
    assert config["site_url"] in readme
    assert "docs/gen_pages.py" in readme
    assert "](docs/" not in readme, "link to the site: GitHub shows the pages' sources raw"
    github_view = (DOCS / "README.md").read_text(encoding="utf-8")
    assert config["site_url"] in github_view
