"""Subcommands of ``python -m recsys_core``; every module here exposes ``register(subparsers)``."""
