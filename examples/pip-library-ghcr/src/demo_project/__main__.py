"""``python -m demo_project``: print a small demonstration as JSON."""

from __future__ import annotations

import json

from demo_project import DEFAULT_MODEL, __version__, standardize


def main() -> None:
    """Show the package at work, e.g. as the container's default command."""
    row = standardize([1.0, 2.0, 3.0])
    result = {
        "package": "demo_project",
        "version": __version__,
        "standardized": row,
        "prediction": DEFAULT_MODEL.predict(row),
    }
    print(json.dumps(result))  # noqa: T201 - printing is this command's job


if __name__ == "__main__":
    main()
