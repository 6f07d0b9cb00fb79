"""The extra languages (`extra_languages`): their files, toolchains and build backends.

Fast tier: each language renders its files exactly when chosen, its build and package
files parse and point at real sources, the conda files install the toolchains of
includes/languages.jinja, and the sources pass the language's own syntax checks where
the tool is here.

Install tier (uv, a handful of renders): the C++ extension is built by scikit-build-core
and tested through the package; the R script and the Node.js package run under the
generated tests; the Rust extension is built where crates.io is reachable and otherwise
skips as offline.
"""

from __future__ import annotations

import json
import re
import shutil
import tomllib
import urllib.error
import urllib.request
import zipfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpers import OFFLINE_SKIP, include_module, params, run
from lockers import env_run, install, lock, manager_env, shell
from lockers import managers as manager_table
from matrix import Answers, all_static_renders, choices, complete

RENDERS = params(all_static_renders())
WITH_LANGUAGES = params([row for row in all_static_renders() if row["extra_languages"]])

# Files each language adds (PKG: the package name), written out here rather than read
# from the table so that the table itself is checked against them.
LANGUAGE_FILES = {
    "cpp": ["CMakeLists.txt", "src/native.cpp", "src/PKG/_native.pyi", "tests/test_native.py"],
    "rust": ["Cargo.toml", "src/lib.rs", "src/PKG/_native.pyi", "tests/test_native.py"],
    "r": ["src/PKG/r/summarize.R", "src/PKG/rstats.py", "tests/test_rstats.py"],
    "node": [
        "src/PKG/node/package.json",
        "src/PKG/node/report.js",
        "src/PKG/node/test/report.test.js",
        "src/PKG/report.py",
        "tests/test_report.py",
    ],
}
BACKENDS = {"cpp": "scikit_build_core.build", "rust": "maturin"}


@cache
def table(name: str, value: str = "") -> Any:
    """A top-level value of an includes/*.jinja file, read the way Copier reads it."""
    module = include_module(name)
    return getattr(module, value or {"languages": "languages", "managers": "backends"}[name])


def languages() -> dict[str, dict[str, Any]]:
    return dict(table("languages"))


def expected_files(answers: Answers) -> dict[str, bool]:
    """Every language file -> whether this render should have it."""
    chosen = set(answers["extra_languages"])
    pkg = answers["package_name"]
    wanted: dict[str, bool] = {}
    for language, names in LANGUAGE_FILES.items():
        for name in names:
            path = name.replace("PKG", pkg)
            wanted[path] = wanted.get(path, False) or language in chosen
    return wanted


# --- fast tier --------------------------------------------------------------------------


def test_table_covers_every_choice_with_every_key() -> None:
    table_ = languages()
    assert sorted(table_) == sorted(choices("extra_languages"))
    keys = set(table_["r"])
    for name, entry in table_.items():
        assert set(entry) == keys, name
        assert entry["conda"], name
        assert all(isinstance(value, str) for value in entry["conda"]), name
        for source in entry["sources"]:
            assert source in LANGUAGE_FILES[name], (name, source)
        if entry["backend"]:
            assert entry["backend"] in table("managers"), name


@pytest.mark.parametrize("answers", RENDERS)
def test_language_files_render_exactly_when_chosen(render, answers: Answers) -> None:
    full = complete(answers)
    project = render(full)
    for name, wanted in expected_files(full).items():
        assert (project / name).is_file() == wanted, name
    assert not (project / "target").exists()


@pytest.mark.parametrize("answers", RENDERS)
def test_build_backend_follows_the_language(render, answers: Answers) -> None:
    full = complete(answers)
    project = render(full)
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    chosen = [BACKENDS[name] for name in full["extra_languages"] if name in BACKENDS]
    backend = pyproject["build-system"]["build-backend"]
    tool = pyproject.get("tool", {})
    pkg = full["package_name"]
    if chosen:
        assert backend == chosen[0]
    else:
        assert backend not in BACKENDS.values()
    if backend == "scikit_build_core.build":
        assert any(r.startswith("pybind11") for r in pyproject["build-system"]["requires"])
        assert tool["scikit-build"]["wheel"]["packages"] == [f"src/{pkg}"]
    else:
        assert "scikit-build" not in tool
    if backend == "maturin":
        assert tool["maturin"]["python-source"] == "src"
        assert tool["maturin"]["module-name"] == f"{pkg}._native"
        assert "pyo3/extension-module" in tool["maturin"]["features"]
    else:
        assert "maturin" not in tool


@pytest.mark.parametrize("answers", WITH_LANGUAGES)
def test_conda_files_install_the_toolchains(render, answers: Answers) -> None:
    full = complete(answers)
    project = render(full)
    table_ = languages()
    chosen = full["extra_languages"]
    wanted = {spec for name in chosen for spec in table_[name]["conda"]}
    others = {spec for name in table_ if name not in chosen for spec in table_[name]["conda"]}
    if (project / "environment.yml").is_file():
        environment = yaml.safe_load((project / "environment.yml").read_text(encoding="utf-8"))
        specs = {item for item in environment["dependencies"] if isinstance(item, str)}
        assert wanted <= specs
        assert not (others - wanted) & specs
    if (project / "pixi.toml").is_file():
        pixi = tomllib.loads((project / "pixi.toml").read_text(encoding="utf-8"))
        found = {
            f"{name}{'' if version == '*' else version}"
            for name, version in pixi["dependencies"].items()
        }
        assert wanted <= found
        assert not (others - wanted) & found


@pytest.mark.parametrize("answers", WITH_LANGUAGES)
def test_build_files_point_at_real_sources(render, answers: Answers) -> None:
    full = complete(answers)
    project = render(full)
    pkg = full["package_name"]
    chosen = full["extra_languages"]
    if "cpp" in chosen:
        cmake = (project / "CMakeLists.txt").read_text(encoding="utf-8")
        assert re.search(r"^cmake_minimum_required\(VERSION 3\.\d+", cmake, re.MULTILINE)
        assert "find_package(pybind11 CONFIG REQUIRED)" in cmake
        module = re.search(r"pybind11_add_module\((\w+) ([\w/.]+)\)", cmake)
        assert module is not None
        assert module.group(1) == "_native"
        assert (project / module.group(2)).is_file()
        assert f"install(TARGETS _native LIBRARY DESTINATION {pkg})" in cmake
        assert "PYBIND11_MODULE(_native, module)" in (project / "src/native.cpp").read_text()
    if "rust" in chosen:
        cargo = tomllib.loads((project / "Cargo.toml").read_text(encoding="utf-8"))
        assert cargo["lib"] == {"name": "_native", "path": "src/lib.rs", "crate-type": ["cdylib"]}
        assert cargo["dependencies"]["pyo3"]
        assert "fn _native(" in (project / "src/lib.rs").read_text(encoding="utf-8")
    if "node" in chosen:
        node = project / "src" / pkg / "node"
        package = json.loads((node / "package.json").read_text(encoding="utf-8"))
        assert package["type"] == "module"
        assert (node / package["exports"]).is_file()
        assert package["scripts"]["test"] == "node --test"
        assert "dependencies" not in package
        assert "devDependencies" not in package
        assert package["private"] is True


@pytest.mark.parametrize(
    "answers",
    params([complete({"extra_languages": ["r", "rust", "node"], "project_kind": "pipeline"})]),
)
def test_sources_pass_their_languages_syntax_checks(render, answers: Answers) -> None:
    """The toolchains that are here parse the sources; each missing one skips."""
    project = render(answers)
    pkg = answers["package_name"]
    missing = []
    if shutil.which("node"):
        for script in sorted((project / "src" / pkg / "node").rglob("*.js")):
            run(["node", "--check", str(script)])
    else:
        missing.append("node")
    if shutil.which("Rscript"):
        script = project / "src" / pkg / "r" / "summarize.R"
        run(["Rscript", "--vanilla", "-e", f"invisible(parse(file = {json.dumps(str(script))}))"])
    else:
        missing.append("Rscript")
    if shutil.which("rustfmt"):
        run(["rustfmt", "--check", "--edition", "2021", str(project / "src/lib.rs")])
    else:
        missing.append("rustfmt")
    if shutil.which("cargo"):
        # Reads and validates Cargo.toml without resolving the dependencies (no network).
        run(["cargo", "verify-project", "--manifest-path", str(project / "Cargo.toml")])
    else:
        missing.append("cargo")
    if missing:
        pytest.skip(f"not installed here, so not checked: {', '.join(missing)}")


# --- install tier -----------------------------------------------------------------------


def crates_io_reachable() -> bool:
    try:
        with urllib.request.urlopen("https://index.crates.io/config.json", timeout=10):
            return True
    except (urllib.error.URLError, TimeoutError, OSError):
        return False


def install_and_test(project: Path, answers: Answers) -> None:
    """Lock and install as the README says, then run the generated tests and the type check.

    Every test of every chosen language must run and pass: none may skip.
    """
    python = answers["python_version"]
    manager = answers["dependency_manager"]
    lock(project, manager, python)
    install(project, manager, python)
    native = table("languages", "native_install").get(manager)
    if native and set(answers["extra_languages"]) & set(BACKENDS):
        # The manager installed the package without building the extension (the reason
        # for README's extra step); the step builds it.
        module = f"{answers['package_name']}._native"
        probe = f"{manager_table()[manager]['exec']}python -c 'import {module}'"
        missing = shell(probe, project, python, check=False)
        assert missing.returncode != 0, "the extension is built without the README's extra step"
        shell(native, project, python)
    result = env_run(project, manager, ["pytest", "-p", "no:cacheprovider", "-v", "-rs"])
    summary = result.stdout.strip().splitlines()[-1]
    assert "passed" in summary, result.stdout[-3000:]
    assert "skipped" not in summary, result.stdout[-3000:]
    for name in expected_files(answers):
        if name.startswith("tests/") and (project / name).is_file():
            assert re.search(rf"^{re.escape(name)}::\w+ PASSED", result.stdout, re.MULTILINE), name
    shell("nox -s typecheck", project, python)  # mypy, with its group installed first


@pytest.mark.install
@pytest.mark.parametrize(
    "answers",
    params([complete({"dependency_manager": "uv", "extra_languages": ["cpp", "node"]})]),
)
def test_cpp_extension_builds_and_its_tests_pass(render_copy, answers: Answers) -> None:
    project = render_copy(answers)
    install_and_test(project, answers)
    # The Node.js package's own tests, with the command CI runs (languages.jinja `test`).
    command = languages()["node"]["test"].replace("PKG", answers["package_name"])
    run(["bash", "-c", command], cwd=project, env=manager_env(answers["python_version"]))
    # The wheel holds the compiled module, the type stub and the Node.js package.
    wheel_dir = project / "dist"
    run(
        ["bash", "-c", f"uv build --wheel --out-dir {wheel_dir}"],
        cwd=project,
        env=manager_env(answers["python_version"]),
    )
    (wheel,) = wheel_dir.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    pkg = answers["package_name"]
    assert any(re.fullmatch(rf"{pkg}/_native\..+\.so", name) for name in names), names
    assert f"{pkg}/_native.pyi" in names
    assert f"{pkg}/node/report.js" in names


@pytest.mark.install
@pytest.mark.parametrize(
    "answers",
    params(
        [
            complete(
                {
                    "dependency_manager": "uv",
                    "project_kind": "pipeline",
                    "python_version": "3.11",
                    "extra_languages": ["r", "node"],
                }
            )
        ]
    ),
)
def test_r_and_node_run_under_the_generated_tests(render_copy, answers: Answers) -> None:
    for tool_name in ("Rscript", "node"):
        if shutil.which(tool_name) is None:
            pytest.skip(f"{tool_name} is not installed (.ci/run installs R with apt-get)")
    project = render_copy(answers)
    install_and_test(project, answers)
    # The pipeline's command line runs the R script.
    script = answers["package_name"].replace("_", "-")
    result = env_run(project, "uv", [script, "--r-summary"])
    summary = json.loads(result.stdout)
    assert summary["r_summary"]["n"] == summary["rows"]
    assert summary["r_summary"]["mean"] == pytest.approx(summary["mean_score"])


@pytest.mark.install
@pytest.mark.parametrize(
    "answers", params([complete({"dependency_manager": "poetry", "extra_languages": ["cpp"]})])
)
def test_cpp_extension_with_poetry(render_copy, answers: Answers) -> None:
    """Poetry does not build the extension itself: README's extra step does."""
    install_and_test(render_copy(answers), answers)


@pytest.mark.install
@pytest.mark.parametrize(
    "answers", params([complete({"dependency_manager": "uv", "extra_languages": ["rust"]})])
)
def test_rust_extension_builds_and_its_tests_pass(render_copy, answers: Answers) -> None:
    if not crates_io_reachable():
        pytest.skip(f"{OFFLINE_SKIP} crates.io is not reachable, so pyo3 cannot be fetched")
    if shutil.which("cargo") is None:
        pytest.skip("cargo is not installed (install Rust with rustup)")
    project = render_copy(answers)
    install_and_test(project, answers)
