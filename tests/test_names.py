"""Fast tier: the names a package may not take (includes/names.jinja) match Python's own."""

from __future__ import annotations

import keyword
import sys

from helpers import include_module


def test_keywords_are_pythons() -> None:
    names = include_module("names").python_keywords
    assert set(keyword.kwlist) | (set(keyword.softkwlist) - {"_"}) <= set(names)


def test_every_public_stdlib_module_is_listed() -> None:
    names = set(include_module("names").stdlib_modules)
    public = {name for name in sys.stdlib_module_names if not name.startswith("_")}
    assert public <= names, sorted(public - names)
    assert {"json", "typing", "asyncio"} <= names
