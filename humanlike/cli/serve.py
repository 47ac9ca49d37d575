"""``humanlike serve``: HTTP and gRPC over one batching core.

Flags come from :class:`~humanlike.serving.config.ServeConfig`, where their defaults live; each is also
read from ``HUMANLIKE_<FIELD>`` (a flag wins over the variable).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from humanlike.cli.common import CliError
from humanlike.cli.options import add_config_flags
from humanlike.serving.config import ENV_PREFIX, ServeConfig

FLAG_NAMES = {
    "http_port": "--http",
    "grpc_port": "--grpc",
    "request_timeout_s": "--request-timeout",
    "drain_timeout_s": "--drain-timeout",
    "keep_alive_s": "--keep-alive",
}
NOT_FLAGS = {"bundle", "auth_token"}  # the bundle is positional; a token never goes on a command line


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Every option can also be set with the environment variable HUMANLIKE_<OPTION> "
        "(e.g. HUMANLIKE_MAX_WAIT_MS=5); a flag wins over the variable. SIGTERM drains and exits 0; "
        "SIGHUP reloads the bundle. Prints one JSON line when listening."
    )
    parser.add_argument("bundle", nargs="?", help="bundle directory (or HUMANLIKE_BUNDLE)")
    names = [n for n in ServeConfig.model_fields if n not in NOT_FLAGS]
    add_config_flags(
        parser,
        ServeConfig,
        names,
        flags=FLAG_NAMES,
        env_prefix=ENV_PREFIX,
        types={"http_port": str, "grpc_port": str, "scoring_processes": str},
    )
    parser.add_argument(
        "--auth-token-file", type=Path, help="require this bearer token (or HUMANLIKE_AUTH_TOKEN)"
    )
    parser.set_defaults(handler=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    flags = {k: v for k, v in vars(args).items() if k in ServeConfig.model_fields}
    if args.auth_token_file is not None:
        flags["auth_token"] = args.auth_token_file.read_text(encoding="utf-8").strip()
    try:
        config = ServeConfig.from_sources(flags)
    except ValidationError as e:
        raise CliError(f"invalid serve configuration: {e}") from None
    from humanlike.serving.server import run

    return run(config)
