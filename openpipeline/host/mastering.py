"""The master options at work on the open scene: checks before mastering, repairs after.

Checks (``unsaved_changes``, ``missing_textures``, ``unknown_nodes``) run before
anything is saved; each found problem either refuses the master (``refuse``: one
sentence, nothing changes) or is shown as a warning (``warn``). Repairs
(``import_references``, ``delete_display_layers``, ``command``) run in that order
on the scene that becomes the master, after its workshop was saved.
See :mod:`openpipeline.core.master_options` for the project config's shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from openpipeline.core.errors import UserError
from openpipeline.core.master_options import MasterOptions
from openpipeline.host import Host

_SHOWN = 3  # names listed in a message before "and N more"


class MasterRefusedError(UserError):
    """A check of the master options found a problem set to ``refuse``."""


@dataclass(frozen=True)
class CheckResult:
    """One check's finding: the option that governs it and the sentence describing it."""

    option: str
    problem: str


def _listed(names: list[str]) -> str:
    shown = ", ".join(names[:_SHOWN])
    more = len(names) - _SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def find_problems(host: Host) -> list[CheckResult]:
    """What the three checks find in the open scene (empty when all is well).

    Cost: the host's queries (Maya: a listing of file and unknown nodes, one
    ``stat`` or folder listing per texture).
    """
    found: list[CheckResult] = []
    if host.has_unsaved_changes():
        found.append(CheckResult("unsaved_changes", "the scene has unsaved changes"))
    missing = host.missing_texture_files()
    if missing:
        found.append(CheckResult("missing_textures",
                                 f"{len(missing)} texture file(s) are missing ({_listed(missing)})"))
    unknown = host.unknown_nodes()
    if unknown:
        found.append(CheckResult("unknown_nodes",
                                 f"{len(unknown)} node(s) are of unknown type ({_listed(unknown)})"))
    return found


def check_before_master(item_name: str, host: Host, options: MasterOptions) -> list[str]:
    """Run the checks; refuse on any problem set to ``refuse``, else return the warnings.

    Raises:
        MasterRefusedError: naming every refusing problem and how to let it through.
    """
    problems = find_problems(host)
    refused = [found for found in problems if getattr(options, found.option) == "refuse"]
    if refused:
        what = "; ".join(found.problem for found in refused)
        keys = ", ".join(f"'{found.option}: warn'" for found in refused)
        raise MasterRefusedError(
            f"Cannot master {item_name}: {what}; fix that first, or set {keys} under "
            "master_options in openpipeline.yaml.")
    return [f"Mastering {item_name} although {found.problem}." for found in problems]


def repairs_for(host: Host, options: MasterOptions) -> list[tuple[str, Callable[[], None]]]:
    """The repairs switched on in ``options``, as ``(name, run)`` in the order they run."""
    steps: dict[str, Callable[[], None]] = {
        "import_references": host.import_all_references,
        "delete_display_layers": host.delete_display_layers,
        "command": lambda: host.run_command(options.command_language, options.command),
    }
    return [(name, steps[name]) for name in options.repairs()]


def apply_repairs(host: Host, options: MasterOptions) -> list[str]:
    """Run the switched-on repairs on the open scene; returns their names in order.

    Raises:
        HostCommandError: a repair failed (the ones after it do not run).
    """
    done: list[str] = []
    for name, run in repairs_for(host, options):
        run()
        done.append(name)
    return done
