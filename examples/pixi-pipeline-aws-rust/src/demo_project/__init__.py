"""Top-level package of Demo Project."""

from importlib.metadata import PackageNotFoundError, version

from demo_project.core import DEFAULT_MODEL, LinearModel, standardize

try:
    __version__ = version("demo-project")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["DEFAULT_MODEL", "LinearModel", "__version__", "standardize"]
