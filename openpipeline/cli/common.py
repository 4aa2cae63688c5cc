"""What every area of the command line shares: output, project selection, argument types.

Each area module (``projects``, ``items``, ``versions``, ``lifecycle``, ``scatter``,
``texture``) has a ``register(cli)`` function that adds its sub-commands, each
declared beside the function that handles it.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from openpipeline.core.address import ItemRef
from openpipeline.core.errors import UserError
from openpipeline.core.identity import short_time
from openpipeline.core.items import Item
from openpipeline.core.project import Project
from openpipeline.core.selection import PROJECT_ENV, select_project

__all__ = [
    "PROJECT_ENV",
    "CliError",
    "Commands",
    "emit",
    "error_json",
    "item_from",
    "note_text",
    "project_from",
    "short_time",
    "whole_number",
]

Handler = Callable[[argparse.Namespace], None]


class CliError(UserError):
    """A usage error found by the CLI itself."""


# -- output -------------------------------------------------------------------
def emit(args: argparse.Namespace, data: Any, text: str | Callable[[], str]) -> None:
    """Print ``data`` as JSON under ``--json``, else the human text."""
    if args.json:
        print(json.dumps(data, indent=2, sort_keys=True, default=str))
    else:
        print(text() if callable(text) else text)


def error_json(message: str, problems: list[dict[str, object]] | None = None) -> str:
    """What a failed command prints on stdout under ``--json``: the sentence and the problems.

    >>> print(error_json("No project selected."))
    {
      "error": "No project selected.",
      "problems": []
    }
    """
    return json.dumps({"error": message, "problems": problems or []}, indent=2, sort_keys=True,
                      default=str)


# -- project selection ----------------------------------------------------------
def project_from(args: argparse.Namespace) -> Project:
    """The project chosen by ``--project``, ``$OPENPIPELINE_PROJECT`` or the registry."""
    return select_project(args.project, how="pass --project DIR, set OPENPIPELINE_PROJECT")


def item_from(args: argparse.Namespace, address: str | None = None) -> Item:
    """The item named by ``address`` (default: the ``item`` argument)."""
    return project_from(args).item(ItemRef.parse(address or args.item))


# -- argument types ---------------------------------------------------------------
def whole_number(what: str, minimum: int = 1) -> Callable[[str], int]:
    """An argparse type for a whole number of at least ``minimum``; ``what`` names it in errors.

    Text that is not a number is argparse's usage error; a number below ``minimum`` is a
    one-sentence user error (exit 2), like every other refused value.

    >>> whole_number("Count")("3")
    3
    >>> whole_number("Seed", minimum=0)("0")
    0
    """
    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, not '{text}'") from None
        if value < minimum:
            raise CliError(f"{what} must be a whole number of at least {minimum}, not {value}.")
        return value

    return convert


def note_text(text: str) -> str:
    """An argparse type for a note that must say something (``--note`` of saves and masters).

    >>> note_text(" fixed the hands ")
    ' fixed the hands '
    """
    if not text.strip():
        raise CliError("The note is empty; say in --note what changed, e.g. --note 'fixed the hands'.")
    return text


# -- the parser ---------------------------------------------------------------------
@dataclass
class Commands:
    """The top-level sub-command table and the options every command takes."""

    table: Any  # argparse's sub-parsers action (its type is private)
    common: argparse.ArgumentParser

    def leaf(self, group: Any, name: str, func: Handler, help_text: str) -> argparse.ArgumentParser:
        """A command ``name`` in ``group`` (a sub-parsers action) handled by ``func``."""
        sub: argparse.ArgumentParser = group.add_parser(name, parents=[self.common], help=help_text,
                                                       description=help_text)
        sub.set_defaults(func=func)
        return sub

    def command(self, name: str, func: Handler, help_text: str) -> argparse.ArgumentParser:
        """A top-level command (``openpipeline NAME``)."""
        return self.leaf(self.table, name, func, help_text)

    def group(self, name: str, help_text: str) -> Any:
        """A top-level group (``openpipeline NAME ACTION``); returns its sub-parsers action."""
        sub = self.table.add_parser(name, help=help_text, description=help_text)
        return sub.add_subparsers(dest=f"{name}_command", metavar="ACTION", required=True)
