"""Fast tier: the pypi.org-shaped JSON front of benchmarks/green.py (tests/pypi_json.py)
gives each file the URL and hash the simple index gives it, so that pip-tools takes the
hashes from the JSON API instead of downloading the files."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pypi_json
import pytest

PROJECT, VERSION = "packaging", "24.2"


def _get(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.read()
    except urllib.error.HTTPError:
        raise
    except OSError as error:
        pytest.skip(f"offline: the package index cannot be reached ({error})")


def test_the_json_file_urls_are_the_simple_index_links() -> None:
    with pypi_json.serving() as index:
        simple = _get(f"{index}{PROJECT}/").decode()
        project = json.loads(_get(index.replace("/simple/", f"/pypi/{PROJECT}/json")))
    links = {
        url: digest
        for url, digest in re.findall(r'href="([^"#]+)#sha256=([0-9a-f]{64})"', simple)
        if f"-{VERSION}-" in url or url.endswith(f"-{VERSION}.tar.gz")
    }
    files = {item["url"]: item["digests"]["sha256"] for item in project["releases"][VERSION]}
    assert files, "the JSON API listed no file of the release"
    assert files == links, (
        "the front's JSON file URLs and hashes differ from the simple index's links:\n"
        f"{files}\n{links}"
    )
    assert all(url.startswith(pypi_json.FILES) for url in files)


def test_a_missing_project_stays_missing() -> None:
    with pypi_json.serving() as index:
        url = index.replace("/simple/", "/pypi/no-such-project-groundwork-x/json")
        with pytest.raises(urllib.error.HTTPError) as raised:
            _get(url)
    assert raised.value.code == 404
