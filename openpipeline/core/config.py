"""The project config: one versioned YAML file at the project root.

The file is read with ``yaml.safe_load`` and checked strictly: an unknown key, a
wrong type or a bad template is a :class:`~openpipeline.core.errors.ConfigError`
naming the key, so a hand-edit mistake is caught before anything is written.

A file written by OpenPipeline starts with :data:`WHOLE_NOTE` and ends with
:data:`END_LINE`. A file that carries the note but not the end line was cut short
(a copy or an editor's save that did not finish) and is refused: YAML would read
the part that is left as a smaller, valid config, and items would vanish. A file
without the note (written by hand) is read as it is; the values between the two
lines may be edited freely. A checksum is not used: it would refuse every hand
edit of a file OpenPipeline wrote.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from openpipeline.core import fsutil
from openpipeline.core.errors import ConfigError, InvalidNameError
from openpipeline.core.master_options import MasterOptions, parse_master_options
from openpipeline.core.names import validate_name
from openpipeline.core.templates import (
    DEFAULT_FOLDERS,
    DEFAULT_TEMPLATES,
    FOLDER_KEYS,
    Template,
    check_templates,
)

CONFIG_NAME = "openpipeline.yaml"
CONFIG_VERSION = 1
FORMATS = ("ma", "mb")
STATUSES = ("active", "on_hold", "finished", "archived")
PLATFORMS = ("linux", "windows", "darwin")
_FOLDER_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\Z", re.ASCII)
HEADER = "# OpenPipeline project config. Edit with care; it is checked on every load."
END_LINE = "# End of the OpenPipeline project config."
WHOLE_NOTE = f"# Keep the last line ('{END_LINE}'): without it this file counts as cut short."
# Folders side by side: those at the project root, and those inside an item's folder.
ROOT_FOLDERS = ("library", "scenes", "archive", "deleted", "textures", "renders", "particles",
                "scripts")
ITEM_FOLDERS = ("components", "workshop", "version", "notes")

SAVE_SCENE_CHECKS = ("refuse", "warn")


@dataclass(frozen=True)
class ProjectConfig:
    """Everything a project's ``openpipeline.yaml`` holds."""

    name: str
    code: str
    description: str = ""
    deadline: str = ""
    status: str = "active"
    created: str = ""
    users: tuple[str, ...] = ()
    master_format: str = "ma"
    workshop_format: str = "ma"
    version_padding: int = 4
    folders: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_FOLDERS))
    templates: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_TEMPLATES))
    roots: Mapping[str, str] = field(default_factory=dict)
    lock_ttl_seconds: int = 8 * 3600
    archive_keep: int = 3
    validators: tuple[str, ...] = ()
    # What 'workshop save' does with a file that is not a whole scene of workshop_format:
    # "refuse" it (one sentence, nothing written) or "warn" and save it anyway.
    save_scene_check: str = "refuse"
    # What the Maya master action checks and repairs (core/master_options.py): all repairs off.
    master_options: MasterOptions = field(default_factory=MasterOptions)

    def compiled_templates(self) -> dict[str, Template]:
        return check_templates(self.templates, self.folders)

    def to_dict(self) -> dict[str, Any]:
        return {
            "config_version": CONFIG_VERSION,
            "name": self.name,
            "code": self.code,
            "description": self.description,
            "deadline": self.deadline,
            "status": self.status,
            "created": self.created,
            "users": list(self.users),
            "master_format": self.master_format,
            "workshop_format": self.workshop_format,
            "version_padding": self.version_padding,
            "folders": dict(self.folders),
            "templates": dict(self.templates),
            "roots": dict(self.roots),
            "lock_ttl_seconds": self.lock_ttl_seconds,
            "archive_keep": self.archive_keep,
            "validators": list(self.validators),
            "save_scene_check": self.save_scene_check,
            "master_options": self.master_options.to_dict(),
        }

    def edited(self, **changes: Any) -> ProjectConfig:
        """A copy with ``changes`` applied and checked like a loaded file."""
        data = self.to_dict()
        data.update(changes)
        return config_from_dict(data, source="the edit")


_KEYS = set(ProjectConfig.__dataclass_fields__) | {"config_version"}


def _expect(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], source: str) -> Any:
    value = data[key]
    if isinstance(value, bool) and kind is int:
        raise ConfigError(f"'{key}' in {source} must be a whole number, not {value!r}.")
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ConfigError(f"'{key}' in {source} must be a {names}, not {value!r}.")
    return value


def config_from_dict(data: Any, source: str) -> ProjectConfig:
    """Build a checked :class:`ProjectConfig` from parsed YAML.

    Each group of settings has its own small parser below, run in this order;
    the first problem found raises :class:`ConfigError` naming the setting and
    ``source``.
    """
    settings = _check_shape(data, source)
    values: dict[str, Any] = {}
    for parse in (_parse_texts, _parse_users, _parse_formats, _parse_numbers):
        values.update(parse(settings, source))
    folders = _parse_folders(settings, source)
    values["folders"] = folders
    values["templates"] = _parse_templates(settings, folders, source)
    for parse in (_parse_roots, _parse_validators):
        values.update(parse(settings, source))
    if "master_options" in settings:
        values["master_options"] = parse_master_options(settings["master_options"], source)
    return ProjectConfig(**values)


def _check_shape(data: Any, source: str) -> dict[str, Any]:
    """A mapping of known settings, of this config version, with a name and a code."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source} must hold a mapping of settings, not {type(data).__name__}.")
    unknown = sorted(set(map(str, data)) - _KEYS)
    if unknown:
        raise ConfigError(
            f"Unknown setting '{unknown[0]}' in {source}; check the spelling "
            f"(known settings: {', '.join(sorted(_KEYS))})."
        )
    version = data.get("config_version")
    if version != CONFIG_VERSION:
        raise ConfigError(
            f"{source} has config_version {version!r}; this OpenPipeline reads version "
            f"{CONFIG_VERSION}."
        )
    for required in ("name", "code"):
        if required not in data:
            raise ConfigError(f"{source} lacks the required setting '{required}'.")
    return data


def _parse_texts(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Name, code, description, deadline, status and creation time (dates become text)."""
    values: dict[str, Any] = {}
    for key in ("name", "code", "description", "deadline", "status", "created"):
        if key in data:
            value = data[key]
            if isinstance(value, (_dt.date, _dt.datetime)):
                value = value.isoformat()
            if value is None:
                value = ""
            values[key] = _expect({key: value}, key, str, source)
    for key, what in (("name", "Project"), ("code", "Project code")):
        try:
            validate_name(values[key], what)
        except InvalidNameError as exc:
            raise ConfigError(f"{str(exc)[:-1]} (in {source}).") from exc
    if values.get("deadline"):
        try:
            _dt.date.fromisoformat(values["deadline"])
        except ValueError as exc:
            raise ConfigError(
                f"'deadline' in {source} must be a date like 2027-03-31, not "
                f"{values['deadline']!r}."
            ) from exc
    if values.get("status", "active") not in STATUSES:
        raise ConfigError(
            f"'status' in {source} must be one of {', '.join(STATUSES)}, not "
            f"{values['status']!r}."
        )
    return values


def _parse_users(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    """The project's user names."""
    if "users" not in data:
        return {}
    users = _expect(data, "users", list, source)
    for user in users:
        if not isinstance(user, str) or not user.strip():
            raise ConfigError(f"'users' in {source} must list user names, not {user!r}.")
    return {"users": tuple(users)}


def _parse_formats(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    """The Maya file formats of masters and workshops, and how strictly saves are checked."""
    values: dict[str, Any] = {}
    for key in ("master_format", "workshop_format"):
        if key in data:
            if data[key] not in FORMATS:
                raise ConfigError(
                    f"'{key}' in {source} must be 'ma' or 'mb', not {data[key]!r}."
                )
            values[key] = data[key]
    if "save_scene_check" in data:
        if data["save_scene_check"] not in SAVE_SCENE_CHECKS:
            raise ConfigError(f"'save_scene_check' in {source} must be 'refuse' or 'warn', "
                              f"not {data['save_scene_check']!r}.")
        values["save_scene_check"] = data["save_scene_check"]
    return values


def _parse_numbers(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Version padding, check-out time-to-live and how many versions archiving keeps."""
    values: dict[str, Any] = {}
    for key, low, high in (
        ("version_padding", 1, 9),
        ("lock_ttl_seconds", 1, 10**9),
        ("archive_keep", 0, 10**6),
    ):
        if key in data:
            number = _expect(data, key, int, source)
            if not low <= number <= high:
                raise ConfigError(f"'{key}' in {source} must be between {low} and {high}.")
            values[key] = number
    return values


def _parse_folders(data: Mapping[str, Any], source: str) -> dict[str, str]:
    """The layout's folder names: the defaults, with the config's changes."""
    folders = dict(DEFAULT_FOLDERS)
    if "folders" in data:
        given = _expect(data, "folders", dict, source)
        for key, value in given.items():
            if key not in FOLDER_KEYS:
                raise ConfigError(
                    f"Unknown folder '{key}' in {source}; known folders are "
                    f"{', '.join(FOLDER_KEYS)}."
                )
            if not isinstance(value, str) or not _FOLDER_NAME.match(value) or value in (".", ".."):
                raise ConfigError(
                    f"Folder '{key}' in {source} must be one plain folder name, not {value!r}."
                )
            folders[key] = value
    _check_folders_apart(folders, source)
    return folders


def _check_folders_apart(folders: Mapping[str, str], source: str) -> None:
    """Refuse two layout folders with one name: their contents would be mistaken for each other.

    ``library: scenes`` would list every shot as an asset; the check ignores case, as
    Windows and macOS file systems do.
    """
    for group in (ROOT_FOLDERS, ITEM_FOLDERS):
        seen: dict[str, str] = {}
        for key in group:
            name = folders[key].lower()
            if name in seen:
                raise ConfigError(
                    f"Folders '{seen[name]}' and '{key}' in {source} are both named "
                    f"'{folders[key]}'; give each layout folder its own name."
                )
            seen[name] = key


def _check_tabs_apart(templates: Mapping[str, str], folders: Mapping[str, str],
                      source: str) -> None:
    """Refuse asset and shot templates that start in the same folder of the project root."""
    firsts = []
    for key in ("asset", "shot"):
        first = templates[key].split("/")[0]
        try:
            firsts.append(first.format_map(folders).lower())
        except (KeyError, ValueError):  # an item field: the tab has no folder of its own
            return
    if firsts[0] == firsts[1]:
        raise ConfigError(
            f"Templates 'asset' and 'shot' in {source} both start in the folder "
            f"'{firsts[0]}', so shots would be listed as assets; start them in different folders."
        )


def _parse_templates(
    data: Mapping[str, Any], folders: Mapping[str, str], source: str
) -> dict[str, str]:
    """The path templates: the defaults with the config's changes, checked together."""
    templates = dict(DEFAULT_TEMPLATES)
    if "templates" in data:
        templates.update(_expect(data, "templates", dict, source))
    check_templates(templates, folders)
    _check_tabs_apart(templates, folders, source)
    return templates


def _parse_roots(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    """The project root per OS (``linux``, ``windows``, ``darwin``)."""
    if "roots" not in data:
        return {}
    roots = _expect(data, "roots", dict, source) or {}
    for key, value in roots.items():
        if key not in PLATFORMS:
            raise ConfigError(
                f"Unknown platform '{key}' under 'roots' in {source}; use "
                f"{', '.join(PLATFORMS)}."
            )
        if not isinstance(value, str) or not value:
            raise ConfigError(f"Root for '{key}' in {source} must be a path, not {value!r}.")
    return {"roots": dict(roots)}


def _parse_validators(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    """The studio validators, each written ``module:callable``."""
    if "validators" not in data:
        return {}
    validators = _expect(data, "validators", list, source)
    for spec in validators:
        if not isinstance(spec, str) or ":" not in spec:
            raise ConfigError(
                f"Validator {spec!r} in {source} must be written 'module:callable'."
            )
    return {"validators": tuple(validators)}


def load_config(root: Path) -> ProjectConfig:
    """Read and check ``root/openpipeline.yaml``.

    Cost: one small file read and parse.
    """
    path = root / CONFIG_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(
            f"'{root}' is not an OpenPipeline project (no {CONFIG_NAME}); create one with "
            "'openpipeline project create'."
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read the project config '{path}' ({exc}).") from exc
    _check_whole(text, path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(
            f"The project config '{path}' is not valid YAML{where}; fix or restore it."
        ) from exc
    return config_from_dict(data, f"'{path}'")


def _check_whole(text: str, path: Path) -> None:
    """Refuse a file that OpenPipeline wrote (it carries the note) but that lost its end line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if WHOLE_NOTE in lines and lines[-1] != END_LINE:
        raise ConfigError(
            f"The project config '{path}' was cut short (its last line '{END_LINE}' is "
            "missing); restore it from a backup, or complete it by hand and end it with that line."
        )


def config_text(config: ProjectConfig) -> str:
    """The file content written for ``config``: note, settings, end line."""
    body = yaml.safe_dump(config.to_dict(), sort_keys=False, allow_unicode=True)
    return f"{HEADER}\n{WHOLE_NOTE}\n{body}{END_LINE}\n"


def save_config(root: Path, config: ProjectConfig) -> None:
    """Write the config atomically (comments in a hand-edited file are not kept)."""
    fsutil.atomic_write_text(root / CONFIG_NAME, config_text(config))


def new_config(name: str, **settings: Any) -> ProjectConfig:
    """A config with openPipeline's default layout for a new project."""
    now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    base = ProjectConfig(name=name, code=settings.pop("code", None) or name.upper()[:16],
                         created=now)
    return config_from_dict({**base.to_dict(), **settings}, source="the new project's settings")


__all__ = ["CONFIG_NAME", "END_LINE", "WHOLE_NOTE", "ProjectConfig", "config_text", "load_config",
           "new_config", "save_config"]
