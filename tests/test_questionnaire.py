"""Fast tier: the questionnaire's defaults, validators and escaping of free text."""

from __future__ import annotations

import ast
import itertools
import subprocess
import tomllib
import unicodedata
from pathlib import Path

import pytest
import yaml

from helpers import include_module, run, tool
from matrix import ROOT, choices, complete, is_valid


def copier_copy(
    dst: Path, *data: str, defaults: bool = True, data_file: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The copier CLI as a user runs it: no --trust, answers by --data or --data-file."""
    args = [tool("copier"), "copy", "--quiet", "--vcs-ref=HEAD"]
    if defaults:
        args.append("--defaults")
    if data_file is not None:
        args += ["--data-file", str(data_file)]
    for item in data:
        args += ["--data", item]
    return subprocess.run(
        [*args, str(ROOT), str(dst)], capture_output=True, text=True, check=False, timeout=300
    )


def test_zero_answers_render_uses_the_folder_name(tmp_path: Path) -> None:
    dst = tmp_path / "Churn Model-2"
    result = copier_copy(dst)
    assert result.returncode == 0, result.stderr
    answers = yaml.safe_load((dst / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert answers["project_name"] == "Churn Model-2"
    assert answers["package_name"] == "churn_model_2"
    assert answers["dependency_manager"] == "uv"
    assert answers["python_version"] == "3.13"
    assert (dst / "src" / "churn_model_2" / "__init__.py").is_file()
    project = tomllib.loads((dst / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["name"] == "churn-model-2"


@pytest.mark.parametrize(
    ("folder", "package"),
    [
        ("Ünïcode Dàta", "unicode_data"),
        (unicodedata.normalize("NFD", "Ünïcode Dàta"), "unicode_data"),  # macOS file names
        ("Straße Œuvre Łódź", "strasse_oeuvre_lodz"),
        ("İstanbul Ærø Þing", "istanbul_aero_thing"),
        ("2ème Çà", "pkg_2eme_ca"),
    ],
    ids=["accents", "decomposed", "ligatures", "dotted-i", "digit"],
)
def test_default_package_name_spells_accents_in_ascii(
    tmp_path: Path, folder: str, package: str
) -> None:
    """The destination folder's name, with accented letters transliterated, not dropped."""
    dst = tmp_path / folder
    result = copier_copy(dst)
    assert result.returncode == 0, result.stderr
    answers = yaml.safe_load((dst / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert answers["project_name"] == folder
    assert answers["package_name"] == package
    assert (dst / "src" / package / "__init__.py").is_file()


CONVENTIONAL = {"ß": "ss", "æ": "ae", "ø": "o", "œ": "oe", "ł": "l", "đ": "d", "ð": "d",
                "þ": "th", "ħ": "h", "ı": "i", "ĸ": "k", "ŋ": "ng", "ŀ": "l", "ŧ": "t",  # noqa: RUF001
                "ſ": "s", "ĳ": "ij", "ŉ": "n"}  # fmt: skip  # noqa: RUF001


def test_transliteration_covers_latin_1_and_extended_a() -> None:
    """Every letter of Latin-1 Supplement and Latin Extended-A, lowered as the default
    lowers it, comes out as ASCII letters: its decomposition without the accents, or the
    conventional spelling of a letter that has none."""
    transliterate = include_module("names").transliterate
    for code in range(0xC0, 0x180):
        letter = chr(code)
        if not letter.isalpha():
            continue
        lowered = letter.lower()
        expected = "".join(
            CONVENTIONAL.get(char)
            or "".join(
                c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
            )
            for char in lowered
        )
        got = str(transliterate(lowered))
        assert got == expected, f"{letter!r} (U+{code:04X}) -> {got!r}, expected {expected!r}"
        assert got.isascii(), letter
        assert got.isalpha(), letter
    assert str(transliterate("crème brûlée 🚀 x-1")) == "creme brulee 🚀 x-1"


def test_extra_languages_default_to_conda_poetry(tmp_path: Path) -> None:
    dst = tmp_path / "mixed"
    result = copier_copy(dst, 'extra_languages=["r"]')
    assert result.returncode == 0, result.stderr
    answers = yaml.safe_load((dst / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert answers["dependency_manager"] == "conda-poetry"


def test_deploy_target_default_follows_project_kind(tmp_path: Path) -> None:
    for kind, target in {"library": "pypi", "pipeline": "aws", "service": "aws"}.items():
        dst = tmp_path / kind
        result = copier_copy(dst, f"project_kind={kind}")
        assert result.returncode == 0, result.stderr
        answers = yaml.safe_load((dst / ".copier-answers.yml").read_text(encoding="utf-8"))
        assert answers["deploy_target"] == target


BAD_ANSWERS = [
    ("package_name=1model", "package_name: '1model' is not a lowercase Python identifier"),
    ("package_name=My-Model", "package_name: 'My-Model' is not a lowercase Python identifier"),
    ("package_name=class", "package_name: 'class' is a Python keyword"),
    ("package_name=json", "package_name: 'json' would shadow the standard-library module"),
    ("project_name=  ", "project_name: must not be empty"),
    ("project_name=!!!", "project_name: needs at least one letter or digit"),
    ("description=", "description: must not be empty"),
    ("description=two\nlines", "description: must be one line"),
    ("author_name=A <b>", "author_name: must not contain"),
    ("author_email=not-an-email", "author_email: 'not-an-email' is not an e-mail address"),
    ('extra_languages=["cpp", "rust"]', "extra_languages: 'cpp' and 'rust' both need"),
    ("license=WTFPL", "Invalid choice"),
    ("python_version=3.10", "Invalid choice"),
    ("dependency_manager=hatch", "Invalid choice"),
    ('extra_languages=["go"]', "Invalid choice"),
]


@pytest.mark.parametrize(("data", "message"), BAD_ANSWERS, ids=[b[0] for b in BAD_ANSWERS])
def test_bad_answer_is_rejected_with_its_reason(tmp_path: Path, data: str, message: str) -> None:
    dst = tmp_path / "out"
    result = copier_copy(dst, "project_name=ok", data)
    assert result.returncode != 0
    assert message in result.stderr
    assert not dst.exists(), "a failed copy must leave nothing behind"


def test_data_file_answers_are_validated_too(tmp_path: Path) -> None:
    answers = tmp_path / "answers.yml"
    answers.write_text(
        "project_name: ok\nproject_kind: service\ndeploy_target: pypi\n", encoding="utf-8"
    )
    dst = tmp_path / "out"
    result = copier_copy(dst, data_file=answers)
    assert result.returncode != 0
    assert "a service is deployed as a container, not published to PyPI" in result.stderr
    assert not dst.exists()


@pytest.mark.parametrize(
    ("kind", "target"), list(itertools.product(choices("project_kind"), choices("deploy_target")))
)
def test_deploy_target_rules_match_the_questionnaire(
    tmp_path: Path, kind: str, target: str
) -> None:
    """The matrix's is_valid() agrees with Copier's per-choice validators."""
    dst = tmp_path / "out"
    result = copier_copy(dst, f"project_kind={kind}", f"deploy_target={target}")
    expected = is_valid({"project_kind": kind, "deploy_target": target})
    assert (result.returncode == 0) == expected, result.stderr
    if not expected:
        assert "Invalid choice for 'deploy_target'" in result.stderr
        assert "choose" in result.stderr.splitlines()[-1]
        assert not dst.exists()


HOSTILE = [
    'He said "hi": it\'s #1 \\o/ {{ not jinja }} {% raw %} naïve café ☕ 🚀 \u007f tab\there',
    "- starts like a YAML list item: and has a colon",
    "'single' and [brackets] and {braces} and * stars & ampersand ! bang % percent",
    "yes",
]


@pytest.mark.parametrize("text", HOSTILE, ids=["quotes", "yaml-list", "punctuation", "yaml-bool"])
@pytest.mark.parametrize("manager", ["uv", "conda", "pixi", "pipenv"])
def test_free_text_renders_valid_files(tmp_path: Path, text: str, manager: str) -> None:
    dst = tmp_path / "out"
    name = "Proj " + text.replace("\t", " ")[:60]
    result = copier_copy(
        dst,
        f"project_name={name}",
        "package_name=hostile",
        f"description={text}",
        f"author_name={text.replace('<', '').replace('>', '').replace(',', '')}",
        f"dependency_manager={manager}",
        "project_kind=service",
        "deploy_target=ghcr",
    )
    assert result.returncode == 0, result.stderr
    pyproject = tomllib.loads((dst / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["description"] == text
    for path in [*dst.rglob("*.yml"), *dst.rglob("*.yaml")]:
        yaml.safe_load(path.read_text(encoding="utf-8"))
    answers = yaml.safe_load((dst / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert answers["description"] == text
    if manager == "conda":
        assert yaml.safe_load((dst / "environment.yml").read_text(encoding="utf-8"))
    if manager == "pixi":
        pixi = tomllib.loads((dst / "pixi.toml").read_text(encoding="utf-8"))
        assert pixi["workspace"]["description"] == text
    run([tool("ruff"), "check", "--no-cache", "."], cwd=dst)
    run([tool("ruff"), "format", "--no-cache", "--check", "."], cwd=dst)
    code = (dst / "src" / "hostile" / "app.py").read_text(encoding="utf-8")
    titles = [
        keyword.value.value
        for node in ast.walk(ast.parse(code))
        if isinstance(node, ast.Call)
        for keyword in node.keywords
        if keyword.arg == "title" and isinstance(keyword.value, ast.Constant)
    ]
    assert titles == [name]


def test_matrix_covers_every_choice() -> None:
    """Every value of every choice question is rendered by the fast tier at least once."""
    from matrix import all_static_renders

    rows = [complete(row) for row in all_static_renders()]
    for question in ["license", "project_kind", "dependency_manager", "python_version"]:
        assert {row[question] for row in rows} == set(choices(question)), question
    assert {row["deploy_target"] for row in rows} == set(choices("deploy_target"))
    languages = {lang for row in rows for lang in row["extra_languages"]}
    assert languages == set(choices("extra_languages"))
