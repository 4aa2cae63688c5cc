"""Reading what the original openPipeline MEL plug-in wrote, the way its own readers did.

None of its files is well-formed XML: the registry (``openPipeline_projects.xml``)
and the descriptions (``notes/info.xml``) put a comment before ``<?xml ?>`` and
write values unescaped; the histories (``notes/<item>_AssetNote.xml``,
``_SceneNote.xml``, ``_ComponentNote.xml``) are ``<note>`` blocks appended one
after another with no root element, and their comments hold raw ``<``, ``&`` and
newlines. So nothing here uses an XML parser: fields are found with regular
expressions on the raw text. Text is decoded as UTF-8, else cp1252, else
latin-1 (MEL wrote the system code page). Every reader is read-only (the
original's readers created missing files; these never do).

Example:
    >>> text = "\\t<note>\\n\\t\\t<author>bob</author>\\n\\t\\t<date>04/01/2007</date>\\n"
    >>> text += "\\t\\t<time>17:05:00</time>\\n\\t\\t<event>workshop</event>\\n"
    >>> text += "\\t\\t<version>2</version>\\n\\t\\t<comment>a < b & c</comment>\\n\\t</note>\\n"
    >>> notes, warnings = parse_notes(text, "chair_AssetNote.xml")
    >>> notes[0].author, notes[0].version, notes[0].comment, warnings
    ('bob', 2, 'a < b & c', [])
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from openpipeline.core.errors import ConfigError

REGISTRY_NAME = "openPipeline_projects.xml"
INFO_FILE = "info.xml"

# Registry fields that name folders, and the matching folder keys of our config.
FOLDER_FIELDS = {
    "libraryfolder": "library", "scenesfolder": "scenes", "archivefolder": "archive",
    "deletedfolder": "deleted", "scriptsfolder": "scripts", "rendersfolder": "renders",
    "particlesfolder": "particles", "texturesfolder": "textures",
}
DEFAULT_LEGACY_FOLDERS = {
    "library": "lib", "scenes": "scenes", "archive": "archive", "deleted": "deleted",
    "scripts": "scripts", "renders": "renders", "particles": "particles", "textures": "textures",
}

_PROJECT = re.compile(r"<project>(.*?)</project>", re.S)
_FIELD = re.compile(r"<([A-Za-z_]+)>(.*?)</\1>", re.S)
_DESCRIPTION = re.compile(r"<description>(.*?)</description>", re.S)
_NOTE_START = re.compile(r"^[ \t]*(?=<note>[ \t]*$)", re.M)
_NOTE = re.compile(
    r"\A\s*<note>\s*"
    r"<author>(?P<author>.*?)</author>\s*"
    r"<date>(?P<date>.*?)</date>\s*"
    r"<time>(?P<time>.*?)</time>\s*"
    r"<event>(?P<event>.*?)</event>\s*"
    r"(?:<version>(?P<version>[^<]*)</version>\s*)?"
    r"<comment>(?P<comment>.*?)</comment>\s*"
    r"(?:(?P<close></note>)(?P<rest>.*)|\Z)",
    re.S,
)
_DATE_FORMATS = ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%y %H:%M:%S", "%m/%d/%y %H:%M")


def decode(data: bytes) -> str:
    """Text of a file MEL wrote: UTF-8, else cp1252, else latin-1; CRLF becomes LF."""
    for encoding in ("utf-8", "cp1252", "latin-1"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text.replace("\r\n", "\n")
    raise AssertionError("latin-1 decodes every byte")  # pragma: no cover


def read_text(path: Path) -> str:
    """Read and :func:`decode` a legacy file. Cost: one file read."""
    return decode(path.read_bytes())


def legacy_datetime(date: str, time: str) -> _dt.datetime | None:
    """A note's ``MM/DD/YYYY`` and ``hh:mm:ss`` (local time, as MEL wrote them) in UTC.

    Returns None when they do not read as a date and time.
    """
    stamp = f"{date.strip()} {time.strip()}"
    for pattern in _DATE_FORMATS:
        try:
            local = _dt.datetime.strptime(stamp, pattern)
        except ValueError:
            continue
        return local.astimezone(_dt.timezone.utc)
    return None


def legacy_date(text: str) -> str:
    """A registry ``MM/DD/YYYY`` date as ``YYYY-MM-DD`` ("" if it is not a date)."""
    for pattern in ("%m/%d/%Y", "%m/%d/%y", "%Y-%m-%d"):
        try:
            return _dt.datetime.strptime(text.strip(), pattern).date().isoformat()
        except ValueError:
            continue
    return ""


# -- the project registry --------------------------------------------------------
@dataclass(frozen=True)
class LegacySettings:
    """One project's settings, as the registry holds them (or as inferred without it).

    ``master_format`` / ``workshop_format`` are "" when unknown (then read from the
    files' extensions); ``folders`` uses our folder keys (``library``, ``scenes``...).
    """

    name: str
    path: str = ""
    description: str = ""
    date: str = ""
    deadline: str = ""
    status: str = "1"
    master_name: str = "master"
    master_format: str = ""
    workshop_name: str = "workshop"
    workshop_format: str = ""
    folders: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_LEGACY_FOLDERS))
    users: tuple[str, ...] = ()

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> LegacySettings:
        """Settings from one ``<project>`` entry; missing or empty fields take the defaults."""
        def get(key: str, default: str = "") -> str:
            return fields.get(key, "").strip() or default

        folders = {ours: get(field, DEFAULT_LEGACY_FOLDERS[ours])
                   for field, ours in FOLDER_FIELDS.items()}
        return cls(
            name=get("name"), path=get("path"), description=get("description"),
            date=get("date"), deadline=get("deadline"), status=get("status", "1"),
            master_name=get("mastername", "master"), master_format=get("masterformat"),
            workshop_name=get("workshopname", "workshop"), workshop_format=get("workshopformat"),
            folders=folders,
            users=tuple(user.strip() for user in get("users").split(",") if user.strip()),
        )

    def normalised_path(self) -> str:
        """``path`` as the original read it (variables expanded, ``/``), no trailing ``/``."""
        return os.path.expandvars(self.path).replace("\\", "/").rstrip("/")


def read_registry(path: Path) -> list[LegacySettings]:
    """Every project of an ``openPipeline_projects.xml`` file, in its order.

    Raises:
        ConfigError: the file cannot be read or lists no project.

    Cost: one small file read.
    """
    try:
        text = read_text(path)
    except OSError as exc:
        raise ConfigError(
            f"Cannot read the openPipeline registry '{path}' ({exc.strerror or exc}); "
            "check the path given to --registry."
        ) from exc
    # The writer splits each entry on '>' and prints two pieces a line, so a '>' inside a
    # value is followed by a line break and the 7-space indent: undone here.
    entries = [
        LegacySettings.from_fields({m.group(1): m.group(2).replace(">\n       ", ">")
                                    for m in _FIELD.finditer(block)})
        for block in _PROJECT.findall(text)
    ]
    if not entries:
        raise ConfigError(
            f"The openPipeline registry '{path}' lists no project; give the "
            f"{REGISTRY_NAME} that holds this project, or leave out --registry."
        )
    return entries


def find_project(entries: list[LegacySettings], root: Path, registry: Path) -> LegacySettings:
    """The registry entry of the project at ``root``: by path, else by folder or project name.

    Raises:
        ConfigError: no entry (or more than one) matches.
    """
    real = os.path.normcase(os.path.realpath(root))
    by_path = [e for e in entries if e.path and
               os.path.normcase(os.path.realpath(e.normalised_path())) == real]
    if len(by_path) == 1:
        return by_path[0]
    by_name = [e for e in entries
               if root.name in (e.name, e.normalised_path().rsplit("/", 1)[-1])]
    if len(by_name) == 1:
        return by_name[0]
    names = ", ".join(e.name or "?" for e in entries)
    raise ConfigError(
        f"The openPipeline registry '{registry}' has no single project at '{root}' "
        f"(it lists: {names}); give the registry that holds it, or leave out --registry."
    )


# -- item descriptions -----------------------------------------------------------
def read_description(path: Path) -> str | None:
    """An item's ``notes/info.xml`` description, read as openPipeline showed it.

    As the original's reader does: the lines inside ``<description>`` are joined
    with no separator, ``<br>`` becomes a newline, and the result is stripped.
    Returns "" for a missing file and None for a file with no ``<description>``.
    """
    try:
        text = read_text(path)
    except FileNotFoundError:
        return ""
    found = _DESCRIPTION.search(text)
    if found is None:
        return None
    pieces = ["".join(piece.split("\n")).strip() for piece in found.group(1).split("<br>")]
    return "\n".join(pieces).strip()


# -- item histories --------------------------------------------------------------
@dataclass(frozen=True)
class LegacyNote:
    """One ``<note>`` of a legacy history file; ``index`` is its place in the file (from 1).

    ``version`` is 0 where the note has none (``created`` and master notes).
    """

    index: int
    author: str
    date: str
    time: str
    event: str
    version: int
    comment: str

    def when(self) -> _dt.datetime | None:
        return legacy_datetime(self.date, self.time)


def parse_notes(text: str, source: str) -> tuple[list[LegacyNote], list[str]]:
    """The notes of one history file's text, and a warning per part that could not be read.

    A block is a line that is ``<note>`` up to the next such line; it must hold
    author, date, time, event, an optional version and a comment, in that order.
    A block that does not is skipped with a warning naming ``source``; so is text
    outside any block (the note before it is kept). A missing ``</note>`` after a
    complete comment is only warned about.
    """
    chunks = _NOTE_START.split(text)
    warnings = []
    if chunks[0].strip():
        warnings.append(f"{source}: text before the first <note> is not a note; skipped it.")
    notes = []
    for index, chunk in enumerate(chunks[1:], start=1):
        found = _NOTE.match(chunk)
        version = (found.group("version") or "0").strip() if found else ""
        if found is None or not version.isdigit():
            warnings.append(f"{source}: note {index} is damaged (it needs author, date, time, "
                            "event and comment, each closed); skipped it.")
            continue
        if not found.group("close"):
            warnings.append(f"{source}: note {index} has no closing </note>; read it anyway.")
        elif found.group("rest").strip():
            warnings.append(f"{source}: text after note {index} is not a note; skipped it.")
        notes.append(LegacyNote(index, found.group("author").strip(), found.group("date").strip(),
                                found.group("time").strip(), found.group("event").strip(),
                                int(version), found.group("comment")))
    return notes, warnings


def read_notes(path: Path, source: str) -> tuple[list[LegacyNote], list[str]]:
    """:func:`parse_notes` of a history file (no notes and no warning if it is missing)."""
    try:
        text = read_text(path)
    except FileNotFoundError:
        return [], []
    return parse_notes(text, source)
