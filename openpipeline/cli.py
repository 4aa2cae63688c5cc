"""The ``openpipeline`` command.

Exit codes: 0 on success, 2 on a user error (one sentence on stderr, nothing
changed on disk), 1 on an internal error. Every command takes ``--json`` for
scripts. ``--project DIR|NAME`` (before the sub-command) or the
``OPENPIPELINE_PROJECT`` environment variable selects the project; otherwise the
registry's active project is used.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from openpipeline import __version__
from openpipeline.core import lifecycle, registry, versions
from openpipeline.core.errors import OpenPipelineError, ProjectNotFoundError, UserError
from openpipeline.core.items import Item, ItemRef
from openpipeline.core.project import Project
from openpipeline.engine.errors import Cancelled, EngineInputError

PROJECT_ENV = "OPENPIPELINE_PROJECT"
DEBUG_ENV = "OPENPIPELINE_DEBUG"


class CliError(UserError):
    """A usage error found by the CLI itself."""


# -- output -------------------------------------------------------------------
def _emit(args: argparse.Namespace, data: Any, text: str | Callable[[], str]) -> None:
    if args.json:
        print(json.dumps(data, indent=2, sort_keys=True, default=str))
    else:
        print(text() if callable(text) else text)


def _short_time(record: dict[str, Any] | None) -> str:
    if not record:
        return ""
    return str(record.get("time", ""))[:19].replace("T", " ")


# -- project selection ----------------------------------------------------------
def _project(args: argparse.Namespace) -> Project:
    chosen = args.project or os.environ.get(PROJECT_ENV)
    if chosen:
        return Project.open(registry.lookup(chosen))
    active = registry.active_path()
    if active is None:
        raise ProjectNotFoundError(
            "No project selected; pass --project DIR, set OPENPIPELINE_PROJECT, or run "
            "'openpipeline project activate NAME'."
        )
    return Project.open(active)


def _item(args: argparse.Namespace, address: str | None = None) -> Item:
    project = _project(args)
    return project.item(ItemRef.parse(address or args.item))


# -- project commands -------------------------------------------------------------
def _config_summary(project: Project) -> dict[str, Any]:
    return {"root": str(project.root), **project.config.to_dict()}


def cmd_project_create(args: argparse.Namespace) -> None:
    settings: dict[str, Any] = {}
    for key in ("code", "description", "deadline", "status"):
        if getattr(args, key):
            settings[key] = getattr(args, key)
    if args.format:
        settings.update(master_format=args.format, workshop_format=args.format)
    project = Project.create(Path(args.root), args.name, **settings)
    registry.register(project.config.name, project.root, activate=not args.no_activate)
    _emit(args, _config_summary(project),
          f"Created project '{project.config.name}' at {project.root}.")


def cmd_project_register(args: argparse.Namespace) -> None:
    project = Project.open(Path(args.root))
    registry.register(project.config.name, project.root, activate=args.activate)
    _emit(args, _config_summary(project),
          f"Registered project '{project.config.name}' at {project.root}.")


def cmd_project_unregister(args: argparse.Namespace) -> None:
    registry.unregister(args.name)
    _emit(args, {"unregistered": args.name}, f"Forgot project '{args.name}' (files untouched).")


def cmd_project_list(args: argparse.Namespace) -> None:
    data = registry.load()
    rows = [{"name": name, "path": path, "active": name == data.get("active")}
            for name, path in sorted(data["projects"].items())]

    def text() -> str:
        if not rows:
            return "No projects registered; create one with 'openpipeline project create'."
        return "\n".join(f"{'*' if r['active'] else ' '} {r['name']:<20} {r['path']}" for r in rows)

    _emit(args, rows, text)


def cmd_project_show(args: argparse.Namespace) -> None:
    project = _project(args)
    summary = _config_summary(project)

    def text() -> str:
        c = project.config
        lines = [
            f"Project  {c.name} ({c.code})  [{c.status}]",
            f"Root     {project.root}",
        ]
        if c.description:
            lines.append(f"About    {c.description}")
        if c.deadline:
            lines.append(f"Deadline {c.deadline}")
        lines.append(f"Formats  master .{c.master_format}, workshop .{c.workshop_format}")
        if c.users:
            lines.append(f"Users    {', '.join(c.users)}")
        for platform, root in sorted(c.roots.items()):
            lines.append(f"Root on {platform}: {root}")
        return "\n".join(lines)

    _emit(args, summary, text)


def cmd_project_activate(args: argparse.Namespace) -> None:
    registry.activate(args.name)
    _emit(args, {"active": args.name}, f"Project '{args.name}' is now active.")


def cmd_project_edit(args: argparse.Namespace) -> None:
    project = _project(args)
    config = project.config
    changes: dict[str, Any] = {}
    for key in ("description", "deadline", "status"):
        if getattr(args, key) is not None:
            changes[key] = getattr(args, key)
    if args.master_format:
        changes["master_format"] = args.master_format
    if args.workshop_format:
        changes["workshop_format"] = args.workshop_format
    if args.lock_ttl is not None:
        changes["lock_ttl_seconds"] = args.lock_ttl
    if args.archive_keep is not None:
        changes["archive_keep"] = args.archive_keep
    users = list(config.users)
    for user in args.add_user or []:
        if user not in users:
            users.append(user)
    for user in args.remove_user or []:
        if user not in users:
            raise CliError(f"User '{user}' is not in the project; nothing to remove.")
        users.remove(user)
    if args.add_user or args.remove_user:
        changes["users"] = users
    if args.root_for:
        roots = dict(config.roots)
        for spec in args.root_for:
            platform, sep, path = spec.partition("=")
            if not sep:
                raise CliError(f"--root-for takes PLATFORM=PATH, not '{spec}'.")
            roots[platform] = path
        changes["roots"] = roots
    if not changes:
        raise CliError("Nothing to change; give at least one option (see --help).")
    project.edit(**changes)
    _emit(args, _config_summary(project), f"Updated project '{project.config.name}'.")


# -- items -----------------------------------------------------------------------
def _create(args: argparse.Namespace, ref: ItemRef) -> None:
    project = _project(args)
    item = project.create_item(ref, description=getattr(args, "description", "") or "",
                               author=args.user)
    _emit(args, {"item": ref.address, "kind": ref.kind, "path": item.rel},
          f"Created {ref.label.lower()} '{ref}' at {item.rel}.")


def _list(args: argparse.Namespace, ref: ItemRef | None, tab: str, depth: int) -> None:
    project = _project(args)
    if ref is not None:
        project.item(ref)
    refs = project.list_items(ref, depth=depth, tab=tab)
    rows = [{"item": r.address, "kind": r.kind} for r in refs]

    def text() -> str:
        if not refs:
            return "No items."
        return "\n".join("  " * (len(r.parts) - 1) + r.address for r in refs)

    _emit(args, rows, text)


def cmd_asset_create_type(args: argparse.Namespace) -> None:
    _create(args, ItemRef.make("asset", args.type))


def cmd_asset_create(args: argparse.Namespace) -> None:
    _create(args, ItemRef.make("asset", args.type, args.name))


def cmd_asset_list(args: argparse.Namespace) -> None:
    _list(args, ItemRef.make("asset", args.type) if args.type else None, "asset", 3)


def cmd_shot_create_sequence(args: argparse.Namespace) -> None:
    _create(args, ItemRef.make("shot", args.sequence))


def cmd_shot_create(args: argparse.Namespace) -> None:
    _create(args, ItemRef.make("shot", args.sequence, args.shot))


def cmd_shot_list(args: argparse.Namespace) -> None:
    _list(args, ItemRef.make("shot", args.sequence) if args.sequence else None, "shot", 3)


def cmd_component_create(args: argparse.Namespace) -> None:
    parent = ItemRef.parse(args.item)
    if len(parent.parts) != 2:
        raise CliError(
            f"Components belong to an asset or a shot; '{parent}' is a {parent.label.lower()}."
        )
    _create(args, parent.child(args.name))


def cmd_component_list(args: argparse.Namespace) -> None:
    ref = ItemRef.parse(args.item)
    _list(args, ref, ref.tab, 1)


def cmd_item_list(args: argparse.Namespace) -> None:
    if args.deleted:
        rows = lifecycle.deleted_items(_project(args))
        _emit(args, rows, lambda: "\n".join(
            f"{r['item']:<40} deleted {r['time'][:19].replace('T', ' ')} by {r['deleted_by']} "
            f"(stamp {r['stamp']})" for r in rows) or "No deleted items.")
        return
    if args.item:
        ref = ItemRef.parse(args.item)
        _list(args, ref, ref.tab, 3)
    else:
        _list_all(args)


def _list_all(args: argparse.Namespace) -> None:
    project = _project(args)
    refs = project.list_items()
    rows = [{"item": r.address, "kind": r.kind} for r in refs]
    _emit(args, rows, lambda: "\n".join("  " * (len(r.parts) - 1) + r.address for r in refs)
          or "No items yet; create one with 'openpipeline asset create TYPE NAME'.")


def _item_summary(item: Item) -> dict[str, Any]:
    project = item.project
    events = item.events()
    state = item.state(events)
    lock = lifecycle.lock_status(item)
    summary: dict[str, Any] = {
        "item": item.ref.address,
        "kind": item.ref.kind,
        "path": item.rel,
        "description": item.description,
        "lock": lock,
        "children": [r.address for r in item.children()],
        "created": next((e for e in events if e.get("event") == "created"), None),
    }
    if item.ref.holds_files:
        master = state.master
        summary.update(
            master=None if master is None else {
                "path": project.relative(item.master_path),
                "workshop": master["data"].get("workshop"),
                "author": master.get("author"),
                "time": master.get("time"),
                "comment": master.get("comment"),
                "forced": master["data"].get("forced", False),
            },
            workshops=[e.to_dict(project) for _, e in sorted(state.workshops.items())],
            versions=[e.to_dict(project) for _, e in sorted(state.versions.items())],
            uncommitted=item.uncommitted(state),
        )
    return summary


def cmd_item_show(args: argparse.Namespace) -> None:
    item = _item(args)
    summary = _item_summary(item)

    def text() -> str:
        lines = [f"{item.ref.label} {item.ref}", f"  folder   {item.rel}"]
        if summary["description"]:
            lines.append(f"  about    {summary['description']}")
        lock = summary["lock"]
        if lock:
            stale = " (stale)" if lock["stale"] else ""
            lines.append(f"  checked out by {lock['user']} on {lock['host']}{stale}")
        if item.ref.holds_files:
            master = summary["master"]
            if master:
                lines.append(
                    f"  master   {master['path']} (workshop {master['workshop']}, "
                    f"{master['author']}, {master['time'][:19].replace('T', ' ')})"
                    + ("  FORCED past validators" if master["forced"] else "")
                )
            else:
                lines.append("  master   none yet")
            for key in ("workshops", "versions"):
                for row in summary[key]:
                    lines.append(
                        f"  {row['kind']:<8} {row['number']:>4}  {row['state']:<8} "
                        f"{row['author']:<10} {str(row['time'])[:19].replace('T', ' ')}  "
                        f"{row['comment']}"
                    )
            for rel in summary["uncommitted"]:
                lines.append(f"  uncommitted file (left by an interrupted save): {rel}")
        for child in summary["children"]:
            lines.append(f"  contains {child}")
        return "\n".join(lines)

    _emit(args, summary, text)


def cmd_item_history(args: argparse.Namespace) -> None:
    item = _item(args)
    events = item.events()

    def text() -> str:
        lines = []
        for e in events:
            version = f" v{e['version']}" if e.get("version") is not None else ""
            lines.append(f"{_short_time(e)}  {e['author']:<10} {e['event']:<9}{version:<6} "
                         f"{e.get('comment', '')}".rstrip())
        return "\n".join(lines) or "No history."

    _emit(args, events, text)


def cmd_item_rename(args: argparse.Namespace) -> None:
    item = _item(args)
    new = lifecycle.rename(item, args.new_name, author=args.user, note=args.note or "")
    _emit(args, {"from": item.ref.address, "to": new.ref.address, "path": new.rel},
          f"Renamed '{item.ref}' to '{new.ref}'.")


def cmd_item_describe(args: argparse.Namespace) -> None:
    item = _item(args)
    record = lifecycle.describe(item, args.text, author=args.user)
    _emit(args, record, f"Description of '{item.ref}' updated.")


def cmd_item_preview(args: argparse.Namespace) -> None:
    item = _item(args)
    path = lifecycle.set_preview(item, Path(args.image), workshop=args.workshop,
                                 version=args.version, author=args.user)
    rel = item.project.relative(path)
    _emit(args, {"item": item.ref.address, "path": rel}, f"Preview stored at {rel}.")


def cmd_item_recover(args: argparse.Namespace) -> None:
    project = _project(args)
    finished = project.recover()
    _emit(args, {"recovered": finished},
          f"Finished {len(finished)} interrupted operation(s)." if finished
          else "Nothing to recover.")


# -- workshops and masters -------------------------------------------------------------
def cmd_workshop_save(args: argparse.Namespace) -> None:
    item = _item(args)
    record = versions.save_workshop(item, Path(args.file), note=args.note, author=args.user,
                                    ignore_lock=args.ignore_lock)
    _emit(args, record, f"Saved workshop {record['version']} of '{item.ref}': "
                        f"{record['data']['path']}")


def cmd_workshop_list(args: argparse.Namespace) -> None:
    item = _item(args).require_files()
    state = item.state()
    rows = [e.to_dict(item.project) for _, e in sorted(state.workshops.items())]
    _emit(args, rows, lambda: "\n".join(
        f"{r['number']:>4}  {r['state']:<8} {r['author']:<10} {str(r['time'])[:19]}  {r['path']}"
        for r in rows) or "No workshops yet.")


def cmd_master(args: argparse.Namespace) -> None:
    item = _item(args)
    record = versions.master(item, args.workshop, note=args.note, author=args.user,
                             force=args.force, repair=args.repair, ignore_lock=args.ignore_lock)
    data = record["data"]
    kept = (f"; previous master kept as version {data['preserved_version']}"
            if data["preserved_version"] is not None else "")
    forced = f" (forced past {len(data['problems'])} problem(s))" if data["forced"] else ""
    _emit(args, record, f"Mastered workshop {data['workshop']} of '{item.ref}' to "
                        f"{data['path']}{kept}{forced}.")


def cmd_archive(args: argparse.Namespace) -> None:
    item = _item(args)
    record = lifecycle.archive(item, args.keep, author=args.user, note=args.note or "")
    if record is None:
        _emit(args, None, f"Nothing to archive in '{item.ref}'.")
        return
    data = record["data"]
    _emit(args, record, f"Archived {len(data['workshops'])} workshop(s) and "
                        f"{len(data['versions'])} version(s) of '{item.ref}'.")


def cmd_retrieve(args: argparse.Namespace) -> None:
    item = _item(args)
    record = lifecycle.retrieve(item, args.workshop, args.version, author=args.user,
                                note=args.note or "")
    if record is None:
        _emit(args, None, f"Nothing archived in '{item.ref}'.")
        return
    data = record["data"]
    _emit(args, record, f"Retrieved {len(data['workshops'])} workshop(s) and "
                        f"{len(data['versions'])} version(s) of '{item.ref}'.")


def cmd_delete(args: argparse.Namespace) -> None:
    item = _item(args)
    target = lifecycle.delete(item, author=args.user, note=args.note or "")
    rel = item.project.relative(target)
    _emit(args, {"item": item.ref.address, "path": rel},
          f"Moved '{item.ref}' to {rel}; 'openpipeline restore {item.ref}' brings it back.")


def cmd_restore(args: argparse.Namespace) -> None:
    project = _project(args)
    item = lifecycle.restore(project, ItemRef.parse(args.item), args.stamp, author=args.user,
                             note=args.note or "")
    _emit(args, {"item": item.ref.address, "path": item.rel},
          f"Restored '{item.ref}' to {item.rel}.")


def cmd_lock(args: argparse.Namespace) -> None:
    item = _item(args)
    action = args.action
    if action == "acquire":
        data = lifecycle.lock_acquire(item, author=args.user, note=args.note or "")
        text = f"'{item.ref}' is checked out by {data['user']}."
    elif action == "release":
        data = lifecycle.lock_release(item, author=args.user, note=args.note or "")
        text = f"'{item.ref}' is released."
    elif action == "steal":
        data = lifecycle.lock_steal(item, author=args.user, note=args.note or "")
        taken = data["taken_from"]
        text = (f"'{item.ref}' is now checked out by {data['lock']['user']}"
                + (f" (taken from {taken['user']} on {taken['host']})." if taken else "."))
    else:
        status = lifecycle.lock_status(item)
        data = {"item": item.ref.address, "lock": status}
        text = (f"'{item.ref}' is not checked out." if status is None else
                f"'{item.ref}' is checked out by {status['user']} on {status['host']} since "
                f"{status['acquired'][:19].replace('T', ' ')}"
                + (" (stale)." if status["stale"] else "."))
    _emit(args, data, text)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not '{text}'") from None
    return value


def cmd_scatter(args: argparse.Namespace) -> None:
    import numpy as np

    from openpipeline.engine import metrics, scatter_io
    from openpipeline.engine.images import DensityMap, read_image
    from openpipeline.engine.mesh import load_mesh
    from openpipeline.engine.progress import text_bar
    from openpipeline.engine.scatter import ScatterParams, require_uvs, scatter

    params = ScatterParams(count=args.count, spacing=args.spacing, method=args.method,
                           seed=args.seed)
    params.check()
    if args.count is None and args.spacing is None:
        raise CliError("Give the number of points with --count N (or a --spacing).")
    if args.count is not None:
        params.resolve_count(1.0)  # refuses a count below 1 before any file is read
    scatter_io.output_format(args.out)
    mesh = load_mesh(args.mesh)
    density = None
    if args.density:
        require_uvs(mesh)  # before reading the image
        density = DensityMap(read_image(args.density), args.density_channel)
    progress = None if args.quiet else text_bar(sys.stderr)
    result = scatter(mesh, params, density, progress)
    scatter_io.write(result, args.out)
    summary = {
        "count": result.count,
        "seconds": round(result.stats["seconds"], 3),
        "method": params.method,
        "seed": params.seed,
        "output": str(Path(args.out).absolute()),
        "edges": 0 if result.edges is None else len(result.edges),
        "density": bool(args.density),
    }
    if density is None:
        quality = metrics.summary(mesh, result.positions)
        summary["nqe_estimate"] = round(quality["nqe"], 4)
        summary["min_nn"] = round(quality["min_nn"], 3)
    summary["bounds"] = [np.round(result.positions.min(0), 4).tolist(),
                         np.round(result.positions.max(0), 4).tolist()]
    text = (f"Scattered {result.count} points ({params.method}, seed {params.seed}) in "
            f"{summary['seconds']} s -> {args.out}")
    if "nqe_estimate" in summary:
        text += f"  (NQE ≈ {summary['nqe_estimate']}× hexagonal optimum)"
    _emit(args, summary, text)


def cmd_texture(args: argparse.Namespace) -> None:
    from openpipeline.engine.progress import text_bar
    from openpipeline.engine.texture import RestoreParams, restore_file

    params = RestoreParams(
        operation=args.operation, sigma=getattr(args, "sigma", None),
        factor=getattr(args, "factor", 2) or 2, seed=args.seed, time_budget=args.time_budget,
        device=args.device, threads=args.threads, seamless=args.seamless, tile=args.tile,
        normal_map=args.normal_map, process_alpha=args.process_alpha,
        max_iterations=args.max_iterations, recipe=args.recipe,
    )
    progress = None if args.quiet else text_bar(sys.stderr)
    summary = restore_file(args.input, args.output, params, mask=getattr(args, "mask", None),
                           guide=getattr(args, "flash", None), progress=progress)
    summary = {"operation": args.operation, **summary}
    reasons = ", ".join(f"{k} ×{v}" for k, v in summary.get("stop_reasons", {}).items())
    sigma = f", σ {summary['sigma']:.1f}" if summary.get("sigma") is not None else ""
    _emit(args, summary, f"{args.operation.capitalize()}d {len(summary['files'])} file(s) in "
                         f"{summary['seconds']:.1f} s, {summary['iterations']} iterations "
                         f"({reasons}{sigma}) -> {', '.join(summary['files'])}")


def cmd_texture_predict(args: argparse.Namespace) -> None:
    from openpipeline.engine import dip
    from openpipeline.engine.images import read_image
    from openpipeline.engine.runtime import load_or_calibrate
    from openpipeline.engine.texture import udim_paths

    if args.factor not in (1, 2, 4, 8):
        raise CliError(f"Upscale factor {args.factor} is not allowed; use 2, 4 or 8.")
    device = dip.pick_device(args.device).type
    threads = dip.pick_threads(args.threads)
    model = load_or_calibrate(device, threads, args.operation)
    total = 0.0
    sizes = []
    for _, path in udim_paths(args.input):
        image = read_image(path)
        total += model.predict(image.width, image.height, args.operation,
                               args.factor if args.operation == "upscale" else 1, args.tile)
        sizes.append([image.width, image.height])
    data = {"operation": args.operation, "device": device, "threads": threads, "seconds": round(total, 1),
            "images": sizes, "model": {"a": model.a, "b": model.b}}
    _emit(args, data, f"About {total / 60:.1f} min on {device} with {threads} thread(s) for "
                      f"{len(sizes)} image(s) (s/it = {model.a:.3g}·MP^{model.b:.2f}).")


def cmd_demo(args: argparse.Namespace) -> None:
    from openpipeline import demo

    demo.run(Path(args.dir), as_json=args.json)


# -- parser ----------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print machine-readable JSON")
    common.add_argument("--user", default=argparse.SUPPRESS,
                        help="author name to record (default: $OPENPIPELINE_USER or login)")

    parser = argparse.ArgumentParser(
        prog="openpipeline",
        description="Asset and shot pipeline: workshops, masters, check-out, history.",
    )
    parser.add_argument("--version", action="version", version=f"openpipeline {__version__}")
    parser.add_argument("--project", help=f"project folder or registered name (or ${PROJECT_ENV})")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument("--user", help="author name to record")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def leaf(group: Any, name: str, func: Callable[[argparse.Namespace], None],
             help_text: str) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = group.add_parser(name, parents=[common], help=help_text,
                                                       description=help_text)
        sub.set_defaults(func=func)
        return sub

    def group(name: str, help_text: str) -> Any:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        return sub.add_subparsers(dest=f"{name}_command", metavar="ACTION", required=True)

    project = group("project", "create, register, list, show, activate, edit projects")
    p = leaf(project, "create", cmd_project_create, "create a project folder and register it")
    p.add_argument("name")
    p.add_argument("--root", required=True, help="folder to create the project in")
    p.add_argument("--code")
    p.add_argument("--description")
    p.add_argument("--deadline", help="YYYY-MM-DD")
    p.add_argument("--status")
    p.add_argument("--format", choices=("ma", "mb"), help="master and workshop format")
    p.add_argument("--no-activate", action="store_true", help="do not make it the active project")
    p = leaf(project, "register", cmd_project_register, "register an existing project folder")
    p.add_argument("root")
    p.add_argument("--activate", action="store_true")
    p = leaf(project, "unregister", cmd_project_unregister, "forget a project (files stay)")
    p.add_argument("name")
    leaf(project, "list", cmd_project_list, "list registered projects")
    leaf(project, "show", cmd_project_show, "show the selected project's settings")
    p = leaf(project, "activate", cmd_project_activate, "make a registered project the default")
    p.add_argument("name")
    p = leaf(project, "edit", cmd_project_edit, "change the selected project's settings")
    p.add_argument("--description")
    p.add_argument("--deadline")
    p.add_argument("--status")
    p.add_argument("--master-format", choices=("ma", "mb"))
    p.add_argument("--workshop-format", choices=("ma", "mb"))
    p.add_argument("--lock-ttl", type=int, help="seconds before a check-out goes stale")
    p.add_argument("--archive-keep", type=int, help="default number kept by 'archive'")
    p.add_argument("--add-user", action="append")
    p.add_argument("--remove-user", action="append")
    p.add_argument("--root-for", action="append", metavar="PLATFORM=PATH",
                   help="project root on linux, windows or darwin")

    asset = group("asset", "asset types and assets")
    p = leaf(asset, "create-type", cmd_asset_create_type, "create an asset type")
    p.add_argument("type")
    p = leaf(asset, "create", cmd_asset_create, "create an asset (and its type if needed)")
    p.add_argument("type")
    p.add_argument("name")
    p.add_argument("--description", default="")
    p = leaf(asset, "list", cmd_asset_list, "list asset types, assets and components")
    p.add_argument("type", nargs="?")

    shot = group("shot", "sequences and shots")
    p = leaf(shot, "create-sequence", cmd_shot_create_sequence, "create a sequence")
    p.add_argument("sequence")
    p = leaf(shot, "create", cmd_shot_create, "create a shot (and its sequence if needed)")
    p.add_argument("sequence")
    p.add_argument("shot")
    p.add_argument("--description", default="")
    p = leaf(shot, "list", cmd_shot_list, "list sequences, shots and components")
    p.add_argument("sequence", nargs="?")

    component = group("component", "components of assets and shots")
    p = leaf(component, "create", cmd_component_create, "create a component of an asset or shot")
    p.add_argument("item")
    p.add_argument("name")
    p.add_argument("--description", default="")
    p = leaf(component, "list", cmd_component_list, "list an item's components")
    p.add_argument("item")

    item = group("item", "list, show, history, rename, describe, preview items")
    p = leaf(item, "list", cmd_item_list, "list items (all, or below ITEM)")
    p.add_argument("item", nargs="?")
    p.add_argument("--deleted", action="store_true", help="list deleted items instead")
    p = leaf(item, "show", cmd_item_show, "show an item: master, workshops, versions, lock")
    p.add_argument("item")
    p = leaf(item, "history", cmd_item_history, "show an item's event history")
    p.add_argument("item")
    p = leaf(item, "rename", cmd_item_rename, "rename an item; files and history follow")
    p.add_argument("item")
    p.add_argument("new_name")
    p.add_argument("--note")
    p = leaf(item, "describe", cmd_item_describe, "set an item's description")
    p.add_argument("item")
    p.add_argument("text")
    p = leaf(item, "preview", cmd_item_preview, "store a preview image for an item or version")
    p.add_argument("item")
    p.add_argument("image")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--workshop", type=int)
    which.add_argument("--version", type=int)
    leaf(item, "recover", cmd_item_recover, "finish operations interrupted by a crash")

    workshop = group("workshop", "save and list workshop versions")
    p = leaf(workshop, "save", cmd_workshop_save, "save FILE as the item's next workshop")
    p.add_argument("item")
    p.add_argument("file")
    p.add_argument("--note", required=True, help="what changed")
    p.add_argument("--ignore-lock", action="store_true",
                   help="save even if somebody else has the item checked out")
    p = leaf(workshop, "list", cmd_workshop_list, "list an item's workshops")
    p.add_argument("item")

    p = leaf(commands, "master", cmd_master, "promote a workshop to the item's master")
    p.add_argument("item")
    p.add_argument("--workshop", type=int, help="workshop number (default: the latest)")
    p.add_argument("--note", required=True)
    p.add_argument("--force", action="store_true", help="master despite validator problems")
    p.add_argument("--repair", action="store_true", help="run validators' repairs first")
    p.add_argument("--ignore-lock", action="store_true")

    p = leaf(commands, "archive", cmd_archive, "move old workshops and versions to the archive")
    p.add_argument("item")
    p.add_argument("--keep", type=int, help="how many of each to keep (default: project setting)")
    p.add_argument("--note")
    p = leaf(commands, "retrieve", cmd_retrieve, "bring archived workshops and versions back")
    p.add_argument("item")
    p.add_argument("--workshop", type=int, action="append")
    p.add_argument("--version", type=int, action="append")
    p.add_argument("--note")
    p = leaf(commands, "delete", cmd_delete, "move an item to the deleted/ tree")
    p.add_argument("item")
    p.add_argument("--note")
    p = leaf(commands, "restore", cmd_restore, "bring a deleted item back")
    p.add_argument("item")
    p.add_argument("--stamp", help="which deletion (default: the newest)")
    p.add_argument("--note")

    lock = group("lock", "check items out and in")
    for action, help_text in (("acquire", "check the item out"),
                              ("release", "give your check-out back"),
                              ("status", "who has the item checked out"),
                              ("steal", "take the check-out from its holder (recorded)")):
        p = leaf(lock, action, cmd_lock, help_text)
        p.set_defaults(action=action)
        p.add_argument("item")
        p.add_argument("--note")

    p = leaf(commands, "scatter", cmd_scatter,
             "distribute points evenly (or by a density map) over a mesh")
    p.add_argument("mesh", help="mesh file: OBJ, PLY, STL, glTF, OFF...")
    p.add_argument("out", help="output: .npz, .json, .usda, .usd or .usdc")
    p.add_argument("--count", type=_positive_int, help="exact number of points")
    p.add_argument("--spacing", type=float, help="hexagonal spacing instead of a count")
    p.add_argument("--density", help="density map image, looked up through the mesh UVs")
    p.add_argument("--density-channel", help="channel name or index (default: R or the mean of RGB)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--method", default="batch-ng", choices=("batch-ng", "online-ng", "gng"))
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    texture = group("texture", "restore textures with Deep Image Prior (denoise, inpaint, upscale)")

    def texture_leaf(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = leaf(texture, name, cmd_texture, help_text)
        sub.set_defaults(operation=name)
        sub.add_argument("input", help="image (PNG, JPEG, TIFF, EXR, .tx) or name.<UDIM>.ext")
        return sub

    def texture_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("output", help="output image (same format rules; <UDIM> for sets)")
        sub.add_argument("--seed", type=int, default=0)
        sub.add_argument("--time-budget", type=float, help="stop after this many seconds")
        sub.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
        sub.add_argument("--threads", type=int, help="CPU threads (default: the idle cores)")
        sub.add_argument("--seamless", action="store_true", help="keep a tileable texture tileable")
        sub.add_argument("--tile", type=int, default=512,
                         help="tile size in pixels (bounds memory: 512 needs about 2 GB)")
        sub.add_argument("--normal-map", action="store_true", help="renormalise as a normal map")
        sub.add_argument("--process-alpha", action="store_true", help="restore alpha too")
        sub.add_argument("--max-iterations", type=int)
        sub.add_argument("--recipe", action="store_true", help="the published (slow) configuration")
        sub.add_argument("--quiet", action="store_true", help="no progress bar")

    p = texture_leaf("denoise", "remove noise (σ estimated unless --sigma)")
    texture_options(p)
    p.add_argument("--sigma", type=float, help="noise level in 8-bit levels (25 = 25/255)")
    p = texture_leaf("inpaint", "fill holes (non-zero mask pixels) or remove a watermark")
    p.add_argument("mask", help="mask image: non-zero pixels are the holes to fill")
    texture_options(p)
    p = texture_leaf("upscale", "super-resolution by 2, 4 or 8")
    texture_options(p)
    p.add_argument("--factor", type=int, required=True, help="2, 4 or 8")
    p = texture_leaf("flash", "natural light with the flash photo's detail (INPUT: no-flash photo)")
    p.add_argument("flash", help="the flash photo of the same surface")
    texture_options(p)

    p = leaf(texture, "predict", cmd_texture_predict,
             "predict a job's time from a calibrated runtime model (for farm planning)")
    p.add_argument("input")
    p.add_argument("--operation", default="denoise", choices=("denoise", "inpaint", "upscale", "flash"))
    p.add_argument("--factor", type=int, default=1)
    p.add_argument("--tile", type=int, default=512)
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    p.add_argument("--threads", type=int)

    p = leaf(commands, "demo", cmd_demo, "build a sample project and print its tree")
    p.add_argument("dir", nargs="?", default="demo_output")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except (UserError, EngineInputError) as exc:
        print(f"openpipeline: {exc}", file=sys.stderr)
        return 2
    except Cancelled as exc:
        print(f"openpipeline: {exc}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("openpipeline: interrupted.", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get(DEBUG_ENV):
            traceback.print_exc()
        kind = "error" if isinstance(exc, OpenPipelineError) else f"internal error ({type(exc).__name__})"
        print(f"openpipeline: {kind}: {exc} (set {DEBUG_ENV}=1 for details).", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
