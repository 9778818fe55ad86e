"""``python -m recsys_core``: the engine's command line.

Each command module of this package (:mod:`.data`, :mod:`.models`, :mod:`.tune`,
:mod:`.compare`) adds its subcommands through a ``register(subparsers)`` function that calls
``subparsers.add_parser`` and sets ``func`` (taking the parsed arguments and returning an exit
code). Errors a user can cause end with exit code 2 and one line on stderr.
"""
from __future__ import annotations

import argparse
import os
import sys

from ..errors import RecsysError

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one clear line, exit 2, no usage dump
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m recsys_core",
                     description="recsys-studio engine: datasets, models, recommendations.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    from . import compare, data, models, tune

    for commands in (data, models, tune, compare):
        commands.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except RecsysError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        print(f"error: {exc.strerror or exc}: {exc.filename}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # output piped into e.g. `head`: the reader has what it wanted
        sys.stdout = open(os.devnull, "w")
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
