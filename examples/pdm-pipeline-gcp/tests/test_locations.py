"""Locations: checked before use, and unreachable stores fail at once with one line."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import pytest

from demo_project import locations
from demo_project.locations import LocationError, parse, read_bytes, resolve, write_bytes

if TYPE_CHECKING:
    from pathlib import Path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty location"),
        ("   ", "empty location"),
        ("s3://", "s3://: no bucket; write s3://BUCKET/PATH"),
        ("gs:///data", "gs:///data: no bucket"),
        ("ftp://host/rows.csv", "unsupported scheme 'ftp'"),
        ("https://example.com/rows.csv", "unsupported scheme 'https'"),
        ("abfs://account.dfs.core.windows.net/c/x", "write abfs://CONTAINER@ACCOUNT"),
        ("file://relative/path", "a file:// URI needs an absolute path"),
    ],
)
def test_malformed_locations_fail_with_one_line(text: str, message: str) -> None:
    with pytest.raises(LocationError, match=r"^[^\n]*$") as raised:
        parse(text)
    assert message in str(raised.value)


def test_locations_are_read_as_written(tmp_path: Path) -> None:
    assert parse("s3://bucket/a/b/").uri == "s3://bucket/a/b"
    assert parse("s3://bucket/a").join("b", "c.json").uri == "s3://bucket/a/b/c.json"
    assert parse("s3://bucket").join("x").uri == "s3://bucket/x"
    where = parse("abfs://data@account.dfs.core.windows.net/x")
    assert (where.bucket, where.path) == ("data@account.dfs.core.windows.net", "x")
    assert parse(f"file://{tmp_path}").uri == str(tmp_path)
    assert parse("relative").is_local


def test_small_files_are_replaced_whole(tmp_path: Path) -> None:
    target = tmp_path / "folder" / "file.json"
    write_bytes(str(target), b"first")
    write_bytes(str(target), b"second")
    assert read_bytes(str(target)) == b"second"
    assert [path.name for path in target.parent.iterdir()] == ["file.json"]
    with pytest.raises(LocationError, match="cannot read"):
        read_bytes(str(tmp_path / "missing.json"))


@pytest.fixture
def no_cloud_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A machine with no cloud credentials and no metadata server answering."""
    for name in list(os.environ):
        if name.startswith(("GOOGLE_", "AZURE_", "CLOUDSDK_", "IDENTITY_", "MSI_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))  # no `az`
    monkeypatch.setattr(locations, "_probe", lambda *_: None)  # not on a cloud's machine
    locations._gcs.cache_clear()  # cached per process
    locations._azure.cache_clear()


def test_no_metadata_server_answers_quickly() -> None:
    discard = 9  # the discard port: nothing listens
    assert locations._probe(f"http://127.0.0.1:{discard}/", {}) is None


@pytest.mark.usefixtures("no_cloud_credentials")
@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("gs://bucket/results", "no Google Cloud credentials found"),
        ("abfs://data@account.dfs.core.windows.net/results", "no Azure credentials found"),
    ],
)
def test_stores_without_credentials_fail_at_once(uri: str, message: str) -> None:
    with pytest.raises(LocationError, match=r"^[^\n]*$") as raised:
        resolve(uri)
    assert str(raised.value).startswith(f"{uri}: {message}")


def test_a_missing_pyarrow_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.fs", None)
    locations._s3.cache_clear()  # cached per process
    with pytest.raises(LocationError, match="needs pyarrow, which is not installed"):
        resolve("s3://bucket/key")
