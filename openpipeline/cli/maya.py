"""``openpipeline maya install|uninstall``: tie this installation to the user's Maya.

``install`` writes ``openpipeline.mod`` into the user's Maya modules folder: one section
per Maya version, the module root an absolute path to this checkout (the folder holding
``plugin/``, ``nodes/``, ``shelves/``), and the variable lines of the repository's own
``module.mod`` (read from it, so the two never drift). ``uninstall`` removes that file,
and only a file this command wrote (it carries :data:`MARKER`).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
from dataclasses import dataclass
from pathlib import Path

from openpipeline import __version__
from openpipeline.atomic import write_bytes
from openpipeline.cli.common import CliError, Commands, emit

MAYA_VERSIONS = ("2024", "2025", "2026")
MODULE_NAME = "openpipeline"
MOD_FILE = "openpipeline.mod"
MARKER = "# Written by 'openpipeline maya install'; 'openpipeline maya uninstall' removes it."
_HEADER = re.compile(r"^\+\s.*?MAYAVERSION:(\d+)")


def register(cli: Commands) -> None:
    """Add the ``maya`` commands."""
    maya = cli.group("maya", "install this OpenPipeline into Maya 2024-2026 (a module file)")
    p = cli.leaf(maya, "install", cmd_install,
                 "write openpipeline.mod into the user's Maya modules folder")
    p.add_argument("--maya-version", choices=MAYA_VERSIONS, type=maya_version,
                   help="only this Maya version (default: 2024, 2025 and 2026)")
    p.add_argument("--modules-dir", help="the modules folder (default: $MAYA_APP_DIR/modules or the "
                                         "platform's maya/modules)")
    p = cli.leaf(maya, "uninstall", cmd_uninstall, "remove the openpipeline.mod that 'maya install' wrote")
    p.add_argument("--modules-dir", help="the modules folder it was written to")


def maya_version(text: str) -> str:
    """An argparse type for a supported Maya version, refused in one sentence.

    >>> maya_version("2025")
    '2025'
    """
    if text not in MAYA_VERSIONS:
        raise CliError(f"Maya {text} is not supported; give --maya-version {', '.join(MAYA_VERSIONS)}.")
    return text


def default_modules_dir() -> Path:
    """``$MAYA_APP_DIR/modules``, else the platform's per-user Maya modules folder."""
    app_dir = os.environ.get("MAYA_APP_DIR")
    if app_dir:
        return Path(app_dir) / "modules"
    home = Path.home()
    system = platform.system()
    if system == "Darwin":
        return home / "Library" / "Preferences" / "Autodesk" / "maya" / "modules"
    if system == "Windows":
        return home / "Documents" / "maya" / "modules"
    return home / "maya" / "modules"


def module_root() -> Path:
    """The folder of this installation that holds ``module.mod`` and ``plugin/``.

    Raises:
        CliError: installed without the module files (from a wheel).
    """
    root = Path(__file__).resolve().parents[2]
    if not (root / "plugin").is_dir() or not (root / "module.mod").is_file():
        raise CliError(f"This openpipeline ({root}) has no plugin/ folder or module.mod, as when installed "
                       "from a wheel; clone the repository, run 'pip install -e .' in it and run "
                       "'openpipeline maya install' again.")
    return root


@dataclass(frozen=True)
class ModuleText:
    """The variable lines of each section of a ``module.mod``, by Maya version."""

    sections: dict[str, list[str]]

    @classmethod
    def parse(cls, text: str) -> ModuleText:
        """Read the ``+ MAYAVERSION:V ...`` sections and the lines under each.

        >>> ModuleText.parse("+ MAYAVERSION:2025 op 1 .\\nPYTHONPATH +:= .\\n").sections
        {'2025': ['PYTHONPATH +:= .']}
        """
        sections: dict[str, list[str]] = {}
        current: list[str] | None = None
        for line in text.splitlines():
            match = _HEADER.match(line)
            if match:
                current = sections.setdefault(match.group(1), [])
            elif current is not None and line.strip() and not line.lstrip().startswith(("#", "//")):
                current.append(line.strip())
        if not sections:
            raise CliError("module.mod has no '+ MAYAVERSION:...' section; restore it from the repository.")
        return cls(sections)

    def lines_for(self, version: str) -> list[str]:
        """The variable lines for ``version`` (a version module.mod lacks gets the newest section's)."""
        return self.sections.get(version) or self.sections[max(self.sections)]


def module_file_text(root: Path, versions: tuple[str, ...]) -> str:
    """The ``openpipeline.mod`` to install: a marker, then one section per version."""
    module = ModuleText.parse((root / "module.mod").read_text(encoding="utf-8"))
    parts = [MARKER]
    for version in versions:
        parts.append("")
        parts.append(f"+ MAYAVERSION:{version} {MODULE_NAME} {__version__} {root}")
        parts.extend(module.lines_for(version))
    return "\n".join(parts) + "\n"


def _written_by_us(path: Path) -> bool:
    try:
        return path.read_text(encoding="utf-8").splitlines()[:1] == [MARKER]
    except (OSError, UnicodeDecodeError):
        return False


def cmd_install(args: argparse.Namespace) -> None:
    root = module_root()
    folder = Path(args.modules_dir) if args.modules_dir else default_modules_dir()
    target = folder / MOD_FILE
    if target.exists() and not _written_by_us(target):
        raise CliError(f"'{target}' exists and was not written by 'openpipeline maya install'; "
                       "move it away and run the install again.")
    if folder.exists() and not folder.is_dir():
        raise CliError(f"The modules folder '{folder}' is a file; give a folder with --modules-dir.")
    versions = (args.maya_version,) if args.maya_version else MAYA_VERSIONS
    text = module_file_text(root, versions).encode("utf-8")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_bytes(target, text)
    except OSError as error:  # under a file, or a folder this user cannot write
        raise CliError(f"Cannot write '{target}' ({error.strerror or error}); give a writable folder with "
                       "--modules-dir.") from error
    data = {"module_file": str(target), "module_root": str(root), "maya_versions": list(versions)}
    emit(args, data, lambda: _next_steps(target, root, versions))


def _next_steps(target: Path, root: Path, versions: tuple[str, ...]) -> str:
    return "\n".join([
        f"Wrote {target} (Maya {', '.join(versions)}; module root {root}).",
        "Next:",
        "  1. Put the dependencies into mayapy:  mayapy -m pip install --user -e " + str(root),
        "  2. Check them:  mayapy -c \"import torch, openpipeline; print(torch.__version__)\"",
        "  3. Start Maya and load openPipeline.py (Windows > Settings/Preferences > Plug-in Manager,",
        "     or cmds.loadPlugin('openPipeline.py')): it loads the two node plug-ins and the menu.",
    ])


def cmd_uninstall(args: argparse.Namespace) -> None:
    folder = Path(args.modules_dir) if args.modules_dir else default_modules_dir()
    target = folder / MOD_FILE
    if not target.exists():
        raise CliError(f"No '{target}' to remove; pass the --modules-dir it was installed into.")
    if not _written_by_us(target):
        raise CliError(f"'{target}' was not written by 'openpipeline maya install', so it is left alone; "
                       "remove it by hand if it is yours.")
    target.unlink()
    emit(args, {"removed": str(target)}, f"Removed {target}; restart Maya to unload OpenPipeline.")
