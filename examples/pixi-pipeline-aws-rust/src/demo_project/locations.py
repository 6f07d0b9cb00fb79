"""Where data and models live: local paths and object-store URIs, checked before use.

A location is a local path (``data/rows.csv``, ``/data``, ``file:///data``) or a URI:
``s3://BUCKET/KEY``, ``gs://BUCKET/KEY`` or
``abfs://CONTAINER@ACCOUNT.dfs.core.windows.net/PATH``. `parse` checks one without touching
the network: empty text, a URI without a bucket or an unknown scheme fail at once.
`resolve` gives the pyarrow filesystem and the path inside it, and fails within seconds,
not minutes, when a store cannot be reached: no Google Cloud or Azure credentials in
sight (looked for where their client libraries look), or a pyarrow built without that
store. Every failure is a `LocationError` with a one-line message that names the location.

Credentials come from the usual places. S3: environment variables, ``~/.aws``, the
container's or instance's role (``AWS_ENDPOINT_URL`` points at another S3 endpoint).
Google Cloud Storage: ``GOOGLE_APPLICATION_CREDENTIALS``, ``gcloud auth
application-default login``, or the metadata server on Google Cloud. Azure: a service
principal or workload identity in ``AZURE_*`` variables, a managed identity, the Azure
CLI's login, or ``AZURE_STORAGE_KEY``/``AZURE_STORAGE_SAS_TOKEN`` for the account.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import urllib.request
import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyarrow import fs

# Scheme -> the store it names; "gcs" and "abfss" are spellings pyarrow accepts too.
STORES = {"s3": "S3", "gs": "Google Cloud Storage", "gcs": "Google Cloud Storage"}
STORES |= {"abfs": "Azure Storage", "abfss": "Azure Storage"}
# How long a Google Cloud Storage client keeps retrying a failing request.
GCS_RETRY_LIMIT = dt.timedelta(seconds=20)
# How long to wait for a cloud's metadata server when looking for credentials.
PROBE_TIMEOUT = 1.0


class LocationError(ValueError):
    """A location is malformed, or its store cannot be reached; the message is one line."""


@dataclass(frozen=True)
class Location:
    """A checked location: `scheme` is "" for a local path.

    `bucket` is the bucket (S3, Google Cloud Storage) or ``CONTAINER@ACCOUNT_HOST``
    (Azure), `path` the path inside it without a leading ``/``; a local location's `path`
    is absolute.
    """

    scheme: str
    bucket: str
    path: str

    @property
    def is_local(self) -> bool:
        """Whether the location is on the local file system."""
        return not self.scheme

    @property
    def uri(self) -> str:
        """The location written out: a URI, or an absolute path."""
        if self.is_local:
            return self.path
        return f"{self.scheme}://{self.bucket}/{self.path}".rstrip("/")

    def join(self, *parts: str) -> Location:
        """The location of `parts` below this one."""
        path = "/".join([self.path.rstrip("/"), *(part.strip("/") for part in parts)])
        return Location(self.scheme, self.bucket, path.lstrip("/") if self.scheme else path)

    def __str__(self) -> str:
        return self.uri


def parse(text: str) -> Location:
    """Check a location's form (no network); raise `LocationError` when it is unusable."""
    if not text.strip():
        msg = "empty location: give a path or a URI such as s3://BUCKET/PATH"
        raise LocationError(msg)
    if "://" not in text:
        return Location("", "", Path(text).expanduser().resolve().as_posix())
    scheme, _, rest = text.partition("://")
    scheme = scheme.lower()
    if scheme == "file":
        if not rest.startswith("/"):
            msg = f"{text}: a file:// URI needs an absolute path, e.g. file:///data/rows.csv"
            raise LocationError(msg)
        return Location("", "", Path(rest).resolve().as_posix())
    if scheme not in STORES:
        msg = f"{text}: unsupported scheme {scheme!r}; use a path, s3://, gs:// or abfs://"
        raise LocationError(msg)
    bucket, _, path = rest.partition("/")
    if not bucket:
        msg = f"{text}: no bucket; write {scheme}://BUCKET/PATH"
        raise LocationError(msg)
    if scheme.startswith("abfs"):
        container, _, account = bucket.partition("@")
        if not container or not account:
            msg = f"{text}: write {scheme}://CONTAINER@ACCOUNT.dfs.core.windows.net/PATH"
            raise LocationError(msg)
    return Location(scheme, bucket, path.strip("/"))


def resolve(location: Location | str) -> tuple[fs.FileSystem, str]:
    """The pyarrow filesystem of a location and the path inside it.

    Fails fast with one line (`LocationError`) when pyarrow lacks the store or no
    credentials for it are found. Filesystems are shared per bucket or account.
    """
    where = parse(location) if isinstance(location, str) else location
    try:
        if where.is_local:
            return _pyarrow_fs().LocalFileSystem(), where.path
        if where.scheme == "s3":
            return _s3(where.bucket), f"{where.bucket}/{where.path}"
        if where.scheme in {"gs", "gcs"}:
            return _gcs(), f"{where.bucket}/{where.path}"
        container, _, host = where.bucket.partition("@")
        return _azure(host), f"{container}/{where.path}"
    except LocationError as error:
        msg = f"{where}: {error}"
        raise LocationError(msg) from error.__cause__


def read_bytes(location: Location | str) -> bytes:
    """The whole content of a file (a model artifact, a manifest)."""
    where = parse(location) if isinstance(location, str) else location
    try:
        if where.is_local:
            return Path(where.path).read_bytes()
        filesystem, path = resolve(where)
        with filesystem.open_input_stream(path) as stream:
            data: bytes = stream.read()
            return data
    except LocationError:
        raise
    except Exception as error:  # OSError and pyarrow's errors, whatever the store
        msg = f"cannot read {where}: {one_line(error)}"
        raise LocationError(msg) from error


def write_bytes(location: Location | str, data: bytes) -> None:
    """Replace a small file all at once: readers see the old content or the new, whole.

    Object stores replace an object in one request; on a local disk the content goes to a
    temporary file first, which then takes the name.
    """
    where = parse(location) if isinstance(location, str) else location
    try:
        if where.is_local:
            target = Path(where.path)
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
            try:
                temporary.write_bytes(data)
                temporary.replace(target)
            finally:
                temporary.unlink(missing_ok=True)
            return
        filesystem, path = resolve(where)
        with filesystem.open_output_stream(path) as stream:
            stream.write(data)
    except LocationError:
        raise
    except Exception as error:  # OSError and pyarrow's errors, whatever the store
        msg = f"cannot write {where}: {one_line(error)}"
        raise LocationError(msg) from error


def one_line(error: BaseException) -> str:
    """An error's message on one line (the clouds' errors span several)."""
    text = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, FileNotFoundError) and "no such file" not in text.lower():
        return f"no such file or directory: {text}"
    return text


def _pyarrow_fs() -> Any:
    """pyarrow's filesystems module; pyarrow loads only when a location is used."""
    try:
        from pyarrow import fs  # noqa: PLC0415
    except ImportError:
        msg = "reading and writing locations needs pyarrow, which is not installed"
        raise LocationError(msg) from None
    return fs


@cache
def _s3(bucket: str) -> fs.FileSystem:
    fs = _pyarrow_fs()
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    try:
        if endpoint:  # another S3 service (MinIO, a local test server): one region
            region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
            return fs.S3FileSystem(endpoint_override=endpoint, region=region or "us-east-1")
        return fs.S3FileSystem(region=fs.resolve_s3_region(bucket))
    except Exception as error:  # OSError, pyarrow's errors
        msg = f"cannot reach the bucket: {one_line(error)}"
        raise LocationError(msg) from error


@cache
def _gcs() -> fs.FileSystem:
    fs = _pyarrow_fs()
    if not hasattr(fs, "GcsFileSystem"):
        msg = "this pyarrow was built without Google Cloud Storage support"
        raise LocationError(msg)
    _google_credentials()
    return fs.GcsFileSystem(retry_time_limit=GCS_RETRY_LIMIT)


@cache
def _azure(host: str) -> fs.FileSystem:
    fs = _pyarrow_fs()
    if not hasattr(fs, "AzureFileSystem"):
        msg = "this pyarrow was built without Azure Storage support"
        raise LocationError(msg)
    account = host.split(".", 1)[0]
    key = os.environ.get("AZURE_STORAGE_KEY")
    token = os.environ.get("AZURE_STORAGE_SAS_TOKEN")
    if key or token:
        return fs.AzureFileSystem(account, account_key=key or None, sas_token=token or None)
    _azure_credentials()
    return fs.AzureFileSystem(account)


def _google_credentials() -> None:
    """Fail at once unless Google's default credentials (google.aip.dev/auth/4110) exist."""
    named = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if named:
        if not Path(named).is_file():
            msg = f"GOOGLE_APPLICATION_CREDENTIALS names {named}, which is not a file"
            raise LocationError(msg)
        return
    config = os.environ.get("CLOUDSDK_CONFIG") or Path.home() / ".config" / "gcloud"
    if (Path(config) / "application_default_credentials.json").is_file():
        return
    host = os.environ.get("GCE_METADATA_HOST", "169.254.169.254")
    answer = _probe(f"http://{host}/computeMetadata/v1/", {"Metadata-Flavor": "Google"})
    if answer is not None and answer.get("Metadata-Flavor") == "Google":
        return
    msg = (
        "no Google Cloud credentials found: set GOOGLE_APPLICATION_CREDENTIALS, "
        "run `gcloud auth application-default login`, or run on Google Cloud"
    )
    raise LocationError(msg)


def _azure_credentials() -> None:
    """Fail at once unless a credential of Azure's default chain is in sight."""
    environ = os.environ
    service_principal = environ.get("AZURE_TENANT_ID") and environ.get("AZURE_CLIENT_ID")
    secret = environ.get("AZURE_CLIENT_SECRET") or environ.get("AZURE_CLIENT_CERTIFICATE_PATH")
    if service_principal and (secret or environ.get("AZURE_FEDERATED_TOKEN_FILE")):
        return
    if environ.get("IDENTITY_ENDPOINT") or environ.get("MSI_ENDPOINT"):  # managed identity
        return
    if shutil.which("az"):  # the Azure CLI's login
        return
    instance = "http://169.254.169.254/metadata/instance?api-version=2021-02-01"
    if _probe(instance, {"Metadata": "true"}) is not None:  # a VM's managed identity
        return
    msg = (
        "no Azure credentials found: set AZURE_TENANT_ID, AZURE_CLIENT_ID and "
        "AZURE_CLIENT_SECRET, run on Azure with a managed identity, log in with `az login`, "
        "or set AZURE_STORAGE_KEY"
    )
    raise LocationError(msg)


def _probe(url: str, headers: dict[str, str]) -> dict[str, str] | None:
    """The response headers of a metadata server, or None when none answers quickly."""
    request = urllib.request.Request(url, headers=headers)
    # Nothing listening, no route, a timeout (all OSError), or a malformed host.
    with (
        contextlib.suppress(OSError, ValueError),
        urllib.request.urlopen(request, timeout=PROBE_TIMEOUT) as response,
    ):
        return dict(response.headers)
    return None
