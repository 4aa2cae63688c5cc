"""Path templates: how items and their files are laid out in a project.

Templates are Python format strings over a fixed set of fields. The defaults
reproduce openPipeline's layout; a studio may change every one of them in the
project config. A template is checked when the config is loaded: unknown fields,
absolute paths and ``..`` are refused, so a bad template fails early with a
readable message instead of writing files in odd places.

Example:
    >>> t = Template("master_asset", "{asset}_asset.{ext}")
    >>> t.render(asset="chair", ext="ma")
    'chair_asset.ma'
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass

from openpipeline.core.errors import ConfigError

FOLDER_KEYS = (
    "library",
    "scenes",
    "components",
    "workshop",
    "version",
    "notes",
    "archive",
    "deleted",
    "textures",
    "renders",
    "particles",
    "scripts",
)

DEFAULT_FOLDERS: dict[str, str] = {key: key for key in FOLDER_KEYS}
DEFAULT_FOLDERS["library"] = "lib"

DEFAULT_TEMPLATES: dict[str, str] = {
    "asset": "{library}/{type}/{asset}",
    "shot": "{scenes}/{sequence}/{shot}",
    "component": "{parent}/{components}/{component}",
    "master_asset": "{asset}_asset.{ext}",
    "master_shot": "{shot}_shot.{ext}",
    "master_component": "{parent_name}_{component}.{ext}",
    "workshop": "{workshop}/{stem}_workshop_{number}.{ext}",
    "version": "{version}/{stem}_version_{number}.{ext}",
    "notes": "{notes}",
}

_ITEM_FIELDS = {"type", "asset", "sequence", "shot", "component", "parent", "parent_name"}
_FILE_FIELDS = {"stem", "ext", "number"} | _ITEM_FIELDS

ALLOWED_FIELDS: dict[str, set[str]] = {
    "asset": set(FOLDER_KEYS) | {"type", "asset"},
    "shot": set(FOLDER_KEYS) | {"sequence", "shot"},
    "component": set(FOLDER_KEYS) | {"parent", "component"},
    "master_asset": set(FOLDER_KEYS) | {"type", "asset", "stem", "ext"},
    "master_shot": set(FOLDER_KEYS) | {"sequence", "shot", "stem", "ext"},
    "master_component": set(FOLDER_KEYS) | {"parent_name", "component", "stem", "ext"},
    "workshop": set(FOLDER_KEYS) | _FILE_FIELDS,
    "version": set(FOLDER_KEYS) | _FILE_FIELDS,
    "notes": set(FOLDER_KEYS) | {"stem"},
}

# Which field must close each item template (the item's own folder).
_LAST_FIELD = {"asset": "asset", "shot": "shot", "component": "component"}
# Which field names the container folder (asset type, sequence).
_CONTAINER_FIELD = {"asset": "type", "shot": "sequence"}

_NAME_PATTERN = r"[A-Za-z][A-Za-z0-9_]*"
_NAME_RE = re.compile(_NAME_PATTERN + r"\Z")


@dataclass(frozen=True)
class Template:
    """One named path template."""

    key: str
    text: str

    def fields(self) -> list[str]:
        return [name for _, name, _, _ in string.Formatter().parse(self.text) if name is not None]

    def render(self, **values: str) -> str:
        """Fill the template; every path produced is relative and has no ``..``."""
        try:
            result = self.text.format_map(values)
        except KeyError as exc:  # a field the caller did not give: a bug, not user input
            raise ConfigError(
                f"Template '{self.key}' needs field {exc} here; fix the template in the config."
            ) from exc
        return result


def check_templates(templates: Mapping[str, str], folders: Mapping[str, str]) -> dict[str, Template]:
    """Validate a full template table against the allowed fields and layout rules."""
    unknown = set(templates) - set(DEFAULT_TEMPLATES)
    if unknown:
        raise ConfigError(
            f"Unknown template '{sorted(unknown)[0]}' in the config; "
            f"known templates are {', '.join(sorted(DEFAULT_TEMPLATES))}."
        )
    merged = {**DEFAULT_TEMPLATES, **templates}
    checked: dict[str, Template] = {}
    for key, text in merged.items():
        if not isinstance(text, str) or not text.strip():
            raise ConfigError(f"Template '{key}' must be a non-empty string.")
        template = Template(key, text)
        try:
            fields = template.fields()
        except ValueError as exc:
            raise ConfigError(f"Template '{key}' is not a valid template ({exc}).") from exc
        for field in fields:
            if field not in ALLOWED_FIELDS[key]:
                raise ConfigError(
                    f"Template '{key}' uses unknown field '{{{field}}}'; allowed fields are "
                    f"{', '.join('{' + f + '}' for f in sorted(ALLOWED_FIELDS[key]))}."
                )
        if text.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", text) or "\\" in text:
            raise ConfigError(
                f"Template '{key}' must be a relative path with '/' separators: '{text}'."
            )
        if any(part in ("", ".", "..") for part in text.split("/")):
            raise ConfigError(f"Template '{key}' may not contain empty, '.' or '..' parts: '{text}'.")
        checked[key] = template
    for key in ("asset", "shot", "component"):
        _check_item_template(checked[key])
    return checked


def _check_item_template(template: Template) -> None:
    segments = template.text.split("/")
    last = _LAST_FIELD[template.key]
    if f"{{{last}}}" not in segments[-1]:
        raise ConfigError(
            f"Template '{template.key}' must end with a folder made from '{{{last}}}': "
            f"'{template.text}'."
        )
    if template.key == "component":
        if segments[0] != "{parent}":
            raise ConfigError(
                f"Template 'component' must start with '{{parent}}/': '{template.text}'."
            )
        return
    container = _CONTAINER_FIELD[template.key]
    container_at = [i for i, seg in enumerate(segments) if f"{{{container}}}" in seg]
    if any(f"{{{last}}}" in seg for seg in segments[:-1]):
        raise ConfigError(
            f"Template '{template.key}' may use '{{{last}}}' only in its last folder: "
            f"'{template.text}'."
        )
    if not container_at or container_at[0] >= len(segments) - 1:
        raise ConfigError(
            f"Template '{template.key}' must have '{{{container}}}' in one folder before the "
            f"'{{{last}}}' folder: '{template.text}'."
        )


class SegmentPattern:
    """One folder level of an item template, compiled for listing.

    Fields already known from the folders above (the asset type inside
    ``{type}_{asset}``) are matched literally, so names with '_' stay unambiguous.
    """

    def __init__(self, segment: str, folders: Mapping[str, str]) -> None:
        self.parsed = [
            (literal, field) for literal, field, _, _ in string.Formatter().parse(segment)
        ]
        self.folders = folders
        self.fields = tuple(
            f for _, f in self.parsed if f is not None and f not in folders and f != "parent"
        )
        self._cache: dict[tuple[tuple[str, str], ...], re.Pattern[str]] = {}
        # A folder level with no item field (``components``) is matched by name, and
        # one made of a single item field (``{asset}``) by the name rule alone.
        self.literal: str | None = None
        self.single: str | None = None
        if not self.fields:
            self.literal = "".join(
                literal + (folders.get(field, "") if field else "")
                for literal, field in self.parsed
            )
        elif len(self.parsed) == 1 and self.parsed[0][0] == "":
            self.single = self.fields[0]

    def regex(self, known: Mapping[str, str]) -> re.Pattern[str]:
        key = tuple(sorted((k, v) for k, v in known.items() if k in self.fields))
        compiled = self._cache.get(key)
        if compiled is None:
            values = dict(key)
            pattern = ""
            for literal, field in self.parsed:
                pattern += re.escape(literal)
                if field is None or field == "parent":
                    continue
                if field in self.folders:
                    pattern += re.escape(self.folders[field])
                elif field in values:
                    pattern += re.escape(values[field])
                else:
                    pattern += f"(?P<{field}>{_NAME_PATTERN})"
            compiled = self._cache[key] = re.compile(pattern + r"\Z")
        return compiled

    def match(self, name: str, known: Mapping[str, str]) -> dict[str, str] | None:
        if self.single is not None and self.single not in known:
            return {self.single: name} if _NAME_RE.match(name) else None
        found = self.regex(known).match(name)
        if found is None:
            return None
        return {**{k: v for k, v in known.items() if k in self.fields}, **found.groupdict()}


def compile_segments(text: str, folders: Mapping[str, str]) -> list[SegmentPattern]:
    """Compile an item template into one matcher per folder level."""
    return [SegmentPattern(segment, folders) for segment in text.split("/")]
