"""Restore textures with Deep Image Prior on a farm machine (plain python or mayapy).

Every texture of a folder, an item's textures folder (``asset/prop/chair``,
``shot/sq010/sh0100``) or one UDIM set (``wall.<UDIM>.png``) is denoised, inpainted
or upscaled into an output folder under its own name. Results come from, and go to,
the shared result cache, so a texture already restored anywhere (a Maya node, another
farm task, a previous run) is copied, not computed again.

    python standalone/restore_textures.py textures/ restored/ --operation denoise
    mayapy standalone/restore_textures.py asset/prop/chair out/ --operation inpaint

Exit codes: 0 done, 2 bad input (one sentence on stderr, nothing written), 1 failure.
Progress: one line per whole percentage, ``  42% denoise wall.png tile 3/8``.
"""

from __future__ import annotations

import functools
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

try:
    import openpipeline  # noqa: F401  # on PYTHONPATH inside Maya (module.mod) or when installed
except ImportError:  # run by path from a checkout: the package is the folder above
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from openpipeline import batch
from openpipeline.batch import ScriptError

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

NAME = "restore_textures"
OPERATIONS = ("denoise", "inpaint", "upscale")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".exr", ".tx", ".tga", ".hdr", ".bmp")
UDIM_NAME = re.compile(r"(?P<head>.+)\.(?P<tile>[1-9]\d{3})(?P<ext>\.[^.]+)\Z")
UDIM_TOKEN = "<UDIM>"
DEFAULT_MASK_RULE = "{name}_mask{ext}"


@dataclass(frozen=True)
class Texture:
    """One job: a file or a UDIM set (``wall.<UDIM>.png``) and, for inpainting, its mask."""

    source: Path            # may hold <UDIM>
    mask: Path | None = None

    @property
    def label(self) -> str:
        return self.source.name


def build_parser() -> batch.ScriptParser:
    parser = batch.ScriptParser(
        prog="restore_textures.py",
        description="Restore every texture of a folder, an item's textures folder or a UDIM set "
                    "with Deep Image Prior, through the shared result cache.",
        epilog="Exit codes: 0 done, 2 bad input, 1 failure. Textures of a folder: its images "
               "(PNG, JPEG, TIFF, EXR, .tx, ...); numbered tiles name.1001.ext... form one UDIM set.",
    )
    parser.add_argument("source", help="a folder, an item address (asset/TYPE/ASSET, shot/SEQ/SHOT, "
                                       "with --project), an image or a UDIM set name.<UDIM>.ext")
    parser.add_argument("output", help="output folder (created); each result keeps its texture's name")
    parser.add_argument("--operation", choices=OPERATIONS, default="denoise")
    parser.add_argument("--factor", type=int, default=2, help="upscale factor: 2, 4 or 8")
    parser.add_argument("--sigma", type=float, help="noise level in 8-bit levels (default: estimated)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-budget", type=float, metavar="SECONDS",
                        help="stop each texture after this long")
    parser.add_argument("--max-iterations", type=int, help="cap the iterations of each tile")
    parser.add_argument("--mask-rule", default=DEFAULT_MASK_RULE,
                        help="inpaint: the mask's file name from the texture's {name} and {ext} "
                             "(a UDIM set's ext holds the tile: '.<UDIM>.png'); default '%(default)s'")
    parser.add_argument("--format", dest="suffix", metavar="EXT", help="result format, e.g. .exr "
                        "(default: each texture's own)")
    parser.add_argument("--project", help="project folder or registered name, for an item address")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    parser.add_argument("--threads", type=int, help="CPU threads (default: the idle cores)")
    parser.add_argument("--tile", type=int, default=512, help="tile size in output pixels")
    parser.add_argument("--seamless", action="store_true", help="keep tileable textures tileable")
    parser.add_argument("--normal-map", action="store_true", help="renormalise as normal maps")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    batch.add_cache_options(parser)
    return parser


# -- which textures ------------------------------------------------------------------
def item_textures_folder(address: str, project_choice: str | None) -> Path:
    """An item's textures: ``<item folder>/textures``, else ``<project textures>/<address>``."""
    from openpipeline.core.selection import select_project

    project = select_project(project_choice, how="pass --project DIR")
    item = project.item(address)
    candidates = [item.path / "textures",
                  project.root / project.config.folders["textures"] / Path(*address.strip("/").split("/"))]
    for folder in candidates:
        if folder.is_dir():
            return folder
    raise ScriptError(f"Item '{address}' has no textures folder; put its textures in "
                      f"'{candidates[0]}' or '{candidates[1]}'.")


def textures_of_folder(folder: Path) -> list[Path]:
    """The images of a folder, numbered tiles grouped into UDIM sets (``name.<UDIM>.ext``)."""
    found: set[Path] = set()
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.name.startswith(".") or path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        match = UDIM_NAME.match(path.name)
        found.add(folder / f"{match['head']}.{UDIM_TOKEN}{match['ext']}" if match else path)
    return sorted(found)


def mask_for(source: Path, rule: str) -> Path:
    """The mask a rule names for a texture: ``{name}`` and ``{ext}`` of its file name."""
    text = source.name
    if UDIM_TOKEN in text:
        name, _, rest = text.partition(f".{UDIM_TOKEN}")
        ext = f".{UDIM_TOKEN}{rest}"
    else:
        name, ext = source.stem, source.suffix
    try:
        return source.with_name(rule.format(name=name, ext=ext))
    except (KeyError, IndexError, ValueError):
        raise ScriptError(f"The mask rule '{rule}' may use only {{name}} and {{ext}}, "
                          f"e.g. '{DEFAULT_MASK_RULE}'.") from None


def _exists(source: Path) -> bool:
    if UDIM_TOKEN not in source.name:
        return source.is_file()
    head, _, tail = source.name.partition(UDIM_TOKEN)
    return any(source.parent.glob(f"{head}[1-9][0-9][0-9][0-9]{tail}"))


def collect(args: argparse.Namespace) -> list[Texture]:
    """The jobs the source names, with their masks; refused (exit 2) before any work."""
    source = Path(args.source)
    if source.is_dir():
        sources = textures_of_folder(source)
    elif _exists(source):
        sources = [source]
    elif args.source.split("/")[0] in ("asset", "shot") and not source.exists():
        sources = textures_of_folder(item_textures_folder(args.source, args.project))
    else:
        raise ScriptError(f"'{args.source}' is not a folder, an image, a UDIM set (name.<UDIM>.ext) "
                          "or an item address; check the path.")
    if args.operation != "inpaint":
        return [Texture(path) for path in sources]
    masks = {mask_for(path, args.mask_rule) for path in sources}
    textures = [Texture(path, mask_for(path, args.mask_rule)) for path in sources if path not in masks]
    for texture in textures:
        if texture.mask is not None and not _exists(texture.mask):
            raise ScriptError(f"Texture '{texture.label}' has no mask '{texture.mask.name}'; add it "
                              "or name the masks with --mask-rule.")
    if not textures:
        raise ScriptError(f"'{args.source}' holds no textures; give a folder of images or an image.")
    return textures


# -- the run -------------------------------------------------------------------------
def _params(args: argparse.Namespace) -> Any:
    from openpipeline.engine.texture import RestoreParams

    params = RestoreParams(operation=args.operation, sigma=args.sigma, factor=args.factor, seed=args.seed,
                           time_budget=args.time_budget, device=args.device, threads=args.threads,
                           tile=args.tile, seamless=args.seamless, normal_map=args.normal_map,
                           max_iterations=args.max_iterations)
    params.check()
    return params


def _check_output(args: argparse.Namespace, textures: list[Texture]) -> Path:
    output = Path(args.output)
    if output.exists() and not output.is_dir():
        raise ScriptError(f"The output '{output}' is a file; give a folder.")
    sources = {texture.source.parent.resolve() for texture in textures}
    resolved = output.resolve()
    if resolved in sources:
        raise ScriptError("The output folder is the textures' own folder, which would overwrite them; "
                          "give another folder.")
    if any(folder in resolved.parents for folder in sources):
        raise ScriptError("The output folder is inside the textures' folder, so its results would be read "
                          "as textures next time; give a folder outside it.")
    if args.suffix is not None and not args.suffix.startswith("."):
        args.suffix = f".{args.suffix}"
    seen: dict[str, str] = {}
    for texture in textures:
        name = _output_name(texture, args.suffix)
        other = seen.setdefault(name.casefold(), texture.label)
        if other != texture.label:
            raise ScriptError(f"'{other}' and '{texture.label}' would both write '{name}'; "
                              "rename one or restore them separately.")
    return output


def _output_name(texture: Texture, suffix: str | None) -> str:
    """The result's name in the output folder: the texture's own, another suffix if asked."""
    return texture.source.name if suffix is None else Path(texture.source.name).stem + suffix


def main(argv: Sequence[str]) -> None:
    args = build_parser().parse_args(argv)
    textures = collect(args)  # before the engine (and torch) is imported: a bad path is refused at once
    if not textures:
        raise ScriptError(f"'{args.source}' holds no textures; give a folder of images or an image.")
    output = _check_output(args, textures)
    params = _params(args)
    cache = batch.open_cache(args)

    from openpipeline.engine.jobs import deliver_cached
    from openpipeline.engine.texture.job import TextureJob, deliver

    progress = None if args.quiet else batch.percent_lines()
    reused_count = 0
    for number, texture in enumerate(textures):
        job = TextureJob(source=str(texture.source), params=params,
                         mask=None if texture.mask is None else str(texture.mask), suffix=args.suffix)
        share = 1 / len(textures)
        step = batch.scaled(progress, number * share, share, texture.label)
        name = _output_name(texture, args.suffix)
        # held against another process's prune; without a cache: a folder removed after
        use = functools.partial(_deliver, deliver, output / name)
        written, reused, warnings = deliver_cached(job, cache, use, step)
        reused_count += reused
        if reused:
            batch.report(progress, "cached", (number + 1) * share, texture.label)
        how = "from the cache" if reused else "restored"
        print(f"{texture.label}: {how} -> {', '.join(str(path) for path in written)}", flush=True)
        for warning in warnings:  # a warning never passes silently
            print(f"{texture.label}: warning: {warning}", file=sys.stderr, flush=True)
    print(f"Done: {len(textures)} texture(s) into {output} ({reused_count} from the cache).", flush=True)


def _deliver(deliver: Any, target: Path, entry: Any, reused: bool) -> tuple[Any, bool, list[str]]:
    """Deliver ``entry`` to ``target`` (its folder made first); (what was written, reused,
    the run's warnings)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    return deliver(entry, str(target)), reused, entry.warnings


if __name__ == "__main__":
    sys.exit(batch.run_script(NAME, main))
