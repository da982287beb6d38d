"""``tokenctl token encrypt`` and ``tokenctl encrypt-file``: through the two APIs (stub)."""

from __future__ import annotations

import argparse

__all__ = ["register", "register_token_encrypt"]


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add ``encrypt-file``."""


def register_token_encrypt(
    cmds: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add ``token encrypt`` to the ``token`` command group."""
