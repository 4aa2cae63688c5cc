"""The user's registry of known projects, with the active one.

Stored as ``projects.yaml`` in the user's config folder: ``$OPENPIPELINE_CONFIG_DIR``
if set, else ``%APPDATA%\\openpipeline`` on Windows, ``~/Library/Application
Support/openpipeline`` on macOS, ``$XDG_CONFIG_HOME/openpipeline`` (or
``~/.config/openpipeline``) elsewhere. Every change is made under a mutex and
written atomically, so two shells registering projects at once lose nothing.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from openpipeline.core import fsutil
from openpipeline.core.errors import ConfigError, ItemExistsError, ProjectNotFoundError
from openpipeline.core.locks import Mutex

CONFIG_DIR_ENV = "OPENPIPELINE_CONFIG_DIR"
REGISTRY_NAME = "projects.yaml"
REGISTRY_VERSION = 1


def config_dir() -> Path:
    """The user's OpenPipeline config folder (not created here)."""
    override = os.environ.get(CONFIG_DIR_ENV)
    if override:
        return Path(override).expanduser()
    if sys.platform.startswith("win"):
        return Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming")) / "openpipeline"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "openpipeline"
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "openpipeline"


def _path() -> Path:
    return config_dir() / REGISTRY_NAME


def load() -> dict[str, Any]:
    """The registry as ``{"active": name|None, "projects": {name: path}}``.

    Raises:
        ConfigError: the file is unreadable or damaged; the message names it and
            says how to repair it.
    """
    path = _path()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"registry_version": REGISTRY_VERSION, "active": None, "projects": {}}
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"The project registry '{path}' is not valid YAML; fix or remove it."
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read the project registry '{path}' ({exc}).") from exc
    problem = _damage(data)
    if problem:
        raise ConfigError(
            f"The project registry '{path}' is damaged ({problem}); fix that entry, or remove "
            "the file and register each project again with 'openpipeline project register DIR'."
        )
    data.setdefault("projects", {})
    data.setdefault("active", None)
    return dict(data)


def _damage(data: Any) -> str | None:
    """What is wrong with the parsed registry, or None when it is sound."""
    if not isinstance(data, dict):
        return "it does not hold a mapping"
    if data.get("registry_version") != REGISTRY_VERSION:
        return f"registry_version is {data.get('registry_version')!r}, not {REGISTRY_VERSION}"
    projects = data.get("projects", {})
    if not isinstance(projects, dict):
        return "'projects' is not a mapping of names to folders"
    for name, folder in projects.items():
        if not isinstance(name, str) or not isinstance(folder, str) or not folder:
            return f"the entry {name!r}: {folder!r} is not a project name and a folder path"
    active = data.get("active")
    if active is not None and not isinstance(active, str):
        return f"'active' is {active!r}, not a project name"
    return None


def _update(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    folder = config_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with Mutex(folder / "projects.mutex", "Updating the project registry").held():
        data = load()
        change(data)
        text = yaml.safe_dump(data, sort_keys=True, allow_unicode=True)
        fsutil.atomic_write_text(_path(), text)
    return data


def register(name: str, root: Path, activate: bool = False) -> None:
    """Record a project (replacing an earlier path under the same name)."""
    def change(data: dict[str, Any]) -> None:
        data["projects"][name] = str(Path(root).absolute())
        if activate or data.get("active") is None:
            data["active"] = name
    _update(change)


def register_new(name: str, root: Path, create: Callable[[], Path], *,
                 replace: bool = False, activate: bool = False) -> None:
    """Create a project with ``create`` and register it, as one step under the registry mutex.

    A name already registered for another folder is refused unless ``replace``;
    then ``create`` is not called, so nothing is written. Of several processes
    creating one name at once, exactly one wins; the others are refused.

    Args:
        name: the new project's name.
        root: the folder it is created in (compared with the registered one).
        create: makes the project; returns its folder, which is registered.
        replace: re-point a name registered for another folder.
        activate: make the project the active one.

    Cost: the registry mutex, one registry read and write, and ``create``.
    """
    def change(data: dict[str, Any]) -> None:
        known = data["projects"].get(name)
        wanted = str(Path(root).expanduser().absolute())
        if known is not None and known != wanted and not replace:
            raise ItemExistsError(
                f"A project named '{name}' is already registered at '{known}'; choose another "
                "name, or pass --force to register this one under the name instead."
            )
        data["projects"][name] = str(create())
        if activate or data.get("active") is None:
            data["active"] = name
    _update(change)


def unregister(name: str) -> None:
    """Forget a project (its folder is not touched)."""
    def change(data: dict[str, Any]) -> None:
        if name not in data["projects"]:
            raise ProjectNotFoundError(f"No project named '{name}' is registered.")
        del data["projects"][name]
        if data.get("active") == name:
            data["active"] = None
    _update(change)


def activate(name: str) -> None:
    """Make a registered project the default for commands run without --project."""
    def change(data: dict[str, Any]) -> None:
        if name not in data["projects"]:
            raise ProjectNotFoundError(
                f"No project named '{name}' is registered; see 'openpipeline project list'."
            )
        data["active"] = name
    _update(change)


def lookup(name_or_path: str) -> Path:
    """A registered project's folder by name, or the given folder itself."""
    projects = load()["projects"]
    if name_or_path in projects:
        return Path(projects[name_or_path])
    return Path(name_or_path)


def active_path() -> Path | None:
    """The active project's folder, if one is set."""
    data = load()
    name = data.get("active")
    if name and name in data["projects"]:
        return Path(data["projects"][name])
    return None
