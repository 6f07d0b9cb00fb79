"""The service's command line: ``demo-project serve`` and ``demo-project train``.

``serve`` loads the model first (``--model-uri``, else ``MODEL_URI``, else the sample
packaged with the code) and only then starts the HTTP server, so a missing, unreadable
or invalid artifact stops it with one line on stderr and exit code 1, before anything is
served. ``train`` fits a model to a dataset and writes its artifact (train.py).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from demo_project import __version__, train
from demo_project.model import ENVIRONMENT_VARIABLE, ModelError, load_model

if TYPE_CHECKING:
    from collections.abc import Sequence

PROG = "demo-project"


def parser() -> argparse.ArgumentParser:
    """The command line's subcommands and options."""
    result = argparse.ArgumentParser(prog=PROG, description="Serve or train the model.")
    result.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = result.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="serve the model over HTTP (/health, /predict)")
    serve.add_argument(
        "--model-uri",
        help=f"the model artifact: a path or a URI such as s3://bucket/models/model.json "
        f"(default: ${ENVIRONMENT_VARIABLE}, else the sample packaged with the code)",
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
    )
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    train.add_arguments(
        commands.add_parser("train", help="fit the model to a dataset and write its artifact")
    )
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Run a subcommand; return the process exit code."""
    args = parser().parse_args(argv)
    if args.command == "train":
        return train.run(args)
    try:
        model = load_model(args.model_uri)
    except ModelError as error:
        sys.stderr.write(f"{PROG} serve: error: {error}\n")
        return 1
    # The web stack loads only to serve, not for train or --help.
    import uvicorn  # noqa: PLC0415

    from demo_project.app import create_app  # noqa: PLC0415

    sys.stderr.write(f"{PROG}: serving model {model.version} ({model.checksum}) from {model.uri}\n")
    uvicorn.run(create_app(model), host=args.host, port=args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
