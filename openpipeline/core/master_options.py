"""Master options: what the Maya master action checks and repairs (``master_options``).

openPipeline's *Master* could import all references, delete the display layers and
run a custom command on the scene before saving it as the master. OpenPipeline keeps
those three repairs (all off by default) and adds three checks run before anything
is saved; each check's outcome is ``refuse`` (the master is refused, nothing changes)
or ``warn`` (a warning, and the master goes on), like ``save_scene_check``.

The shape in ``openpipeline.yaml`` (every key optional; these are the defaults)::

    master_options:
      import_references: false      # import every reference into the master scene
      delete_display_layers: false  # delete every display layer of the master scene
      command: ""                   # code run on the master scene, empty for none
      command_language: python      # python | mel
      unsaved_changes: warn         # refuse | warn: the open scene has unsaved changes
      missing_textures: warn        # refuse | warn: a file node's texture is not on disk
      unknown_nodes: warn           # refuse | warn: the scene holds nodes of unknown type

The repairs touch only the scene saved as the master: the workshop is saved first,
the options are applied, the master is written, then the workshop is reopened.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from openpipeline.core.errors import ConfigError

CHECK_OUTCOMES = ("refuse", "warn")
COMMAND_LANGUAGES = ("python", "mel")
REPAIRS = ("import_references", "delete_display_layers", "command")
CHECKS = ("unsaved_changes", "missing_textures", "unknown_nodes")


@dataclass(frozen=True)
class MasterOptions:
    """The project's master options (see the module docstring for the YAML shape)."""

    import_references: bool = False
    delete_display_layers: bool = False
    command: str = ""
    command_language: str = "python"
    unsaved_changes: str = "warn"
    missing_textures: str = "warn"
    unknown_nodes: str = "warn"

    def to_dict(self) -> dict[str, Any]:
        """The mapping written under ``master_options``."""
        return {field.name: getattr(self, field.name) for field in fields(self)}

    def repairs(self) -> list[str]:
        """The repairs switched on, in the order they run (imports before layers before the command)."""
        wanted = {"import_references": self.import_references,
                  "delete_display_layers": self.delete_display_layers,
                  "command": bool(self.command.strip())}
        return [name for name in REPAIRS if wanted[name]]


_NAMES = tuple(field.name for field in fields(MasterOptions))


def parse_master_options(raw: Any, source: str) -> MasterOptions:
    """A checked :class:`MasterOptions` from the ``master_options`` mapping of a config.

    Raises:
        ConfigError: an unknown key or a value of the wrong kind, naming it and ``source``.
    """
    if raw is None:
        return MasterOptions()
    if not isinstance(raw, Mapping):
        raise ConfigError(f"'master_options' in {source} must be a mapping, not {raw!r}.")
    unknown = sorted(set(map(str, raw)) - set(_NAMES))
    if unknown:
        raise ConfigError(f"Unknown master option '{unknown[0]}' in {source}; known options are "
                          f"{', '.join(_NAMES)}.")
    values = dict(raw)
    for key in ("import_references", "delete_display_layers"):
        if key in values and not isinstance(values[key], bool):
            raise ConfigError(f"Master option '{key}' in {source} must be true or false, "
                              f"not {values[key]!r}.")
    if not isinstance(values.get("command", ""), str):
        raise ConfigError(f"Master option 'command' in {source} must be text, not "
                          f"{values['command']!r}.")
    _check_choice(values, "command_language", COMMAND_LANGUAGES, source)
    for key in CHECKS:
        _check_choice(values, key, CHECK_OUTCOMES, source)
    return MasterOptions(**values)


def _check_choice(values: Mapping[str, Any], key: str, choices: tuple[str, ...], source: str) -> None:
    if key in values and values[key] not in choices:
        raise ConfigError(f"Master option '{key}' in {source} must be "
                          f"{' or '.join(repr(c) for c in choices)}, not {values[key]!r}.")
