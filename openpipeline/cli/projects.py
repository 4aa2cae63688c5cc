"""``openpipeline project ...``: create, register, list, show, activate and edit projects."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from openpipeline.cli.common import CliError, Commands, emit, project_from
from openpipeline.core import registry
from openpipeline.core.project import Project


def register(cli: Commands) -> None:
    """Add the ``project`` commands."""
    project = cli.group("project", "create, register, list, show, activate, edit projects")
    p = cli.leaf(project, "create", cmd_create, "create a project folder and register it")
    p.add_argument("name")
    p.add_argument("--root", required=True, help="folder to create the project in")
    p.add_argument("--code")
    p.add_argument("--description")
    p.add_argument("--deadline", help="YYYY-MM-DD")
    p.add_argument("--status")
    p.add_argument("--format", choices=("ma", "mb"), help="master and workshop format")
    p.add_argument("--no-activate", action="store_true", help="do not make it the active project")
    p.add_argument("--force", action="store_true",
                   help="register the name even if it is registered for another folder")
    p = cli.leaf(project, "register", cmd_register, "register an existing project folder")
    p.add_argument("root")
    p.add_argument("--activate", action="store_true")
    p.add_argument("--force", action="store_true",
                   help="register the name even if it is registered for another folder")
    p = cli.leaf(project, "unregister", cmd_unregister, "forget a project (files stay)")
    p.add_argument("name")
    cli.leaf(project, "list", cmd_list, "list registered projects")
    cli.leaf(project, "show", cmd_show, "show the selected project's settings")
    p = cli.leaf(project, "activate", cmd_activate, "make a registered project the default")
    p.add_argument("name")
    p = cli.leaf(project, "edit", cmd_edit, "change the selected project's settings")
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
    p = cli.leaf(project, "adopt", cmd_adopt,
                 "adopt a project made by the MEL openPipeline (its files stay as they are)")
    p.add_argument("root", help="the legacy project's folder")
    p.add_argument("--registry", type=Path, metavar="FILE",
                   help="the original's openPipeline_projects.xml, to read the project's settings")
    p.add_argument("--name", help="our project name (default: the registry's, else the folder's)")
    p.add_argument("--dry-run", action="store_true", help="report what would be adopted; write nothing")
    p.add_argument("--activate", action="store_true")


def _summary(project: Project) -> dict[str, Any]:
    return {"root": str(project.root), **project.config.to_dict()}


def cmd_create(args: argparse.Namespace) -> None:
    settings: dict[str, Any] = {}
    for key in ("code", "description", "deadline", "status"):
        if getattr(args, key):
            settings[key] = getattr(args, key)
    if args.format:
        settings.update(master_format=args.format, workshop_format=args.format)
    made: list[Project] = []

    def create() -> Path:  # run under the registry mutex, once the name is known to be free
        made.append(Project.create(Path(args.root), args.name, **settings))
        return made[0].root

    registry.register_new(args.name, Path(args.root), create, replace=args.force,
                          activate=not args.no_activate)
    project = made[0]
    emit(args, _summary(project), f"Created project '{project.config.name}' at {project.root}.")


def cmd_register(args: argparse.Namespace) -> None:
    project = Project.open(Path(args.root))
    registry.register_new(project.config.name, project.root, lambda: project.root,
                          replace=args.force, activate=args.activate)
    emit(args, _summary(project), f"Registered project '{project.config.name}' at {project.root}.")


def cmd_unregister(args: argparse.Namespace) -> None:
    registry.unregister(args.name)
    emit(args, {"unregistered": args.name}, f"Forgot project '{args.name}' (files untouched).")


def cmd_list(args: argparse.Namespace) -> None:
    data = registry.load()
    rows = [{"name": name, "path": path, "active": name == data.get("active")}
            for name, path in sorted(data["projects"].items())]

    def text() -> str:
        if not rows:
            return "No projects registered; create one with 'openpipeline project create'."
        return "\n".join(f"{'*' if r['active'] else ' '} {r['name']:<20} {r['path']}" for r in rows)

    emit(args, rows, text)


def cmd_show(args: argparse.Namespace) -> None:
    project = project_from(args)

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

    emit(args, _summary(project), text)


def cmd_activate(args: argparse.Namespace) -> None:
    registry.activate(args.name)
    emit(args, {"active": args.name}, f"Project '{args.name}' is now active.")


def _edited_users(args: argparse.Namespace, users: Sequence[str]) -> list[str]:
    users = list(users)
    for user in args.add_user or []:
        if user not in users:
            users.append(user)
    for user in args.remove_user or []:
        if user not in users:
            raise CliError(f"User '{user}' is not in the project; nothing to remove.")
        users.remove(user)
    return users


def _edited_roots(specs: list[str], roots: Mapping[str, str]) -> dict[str, str]:
    roots = dict(roots)
    for spec in specs:
        platform, sep, path = spec.partition("=")
        if not sep:
            raise CliError(f"--root-for takes PLATFORM=PATH, not '{spec}'.")
        roots[platform] = path
    return roots


def cmd_edit(args: argparse.Namespace) -> None:
    project = project_from(args)
    config = project.config
    options = {"description": args.description, "deadline": args.deadline, "status": args.status,
               "master_format": args.master_format or None,
               "workshop_format": args.workshop_format or None,
               "lock_ttl_seconds": args.lock_ttl, "archive_keep": args.archive_keep}
    changes: dict[str, Any] = {key: value for key, value in options.items() if value is not None}
    if args.add_user or args.remove_user:
        changes["users"] = _edited_users(args, config.users)
    if args.root_for:
        changes["roots"] = _edited_roots(args.root_for, config.roots)
    if not changes:
        raise CliError("Nothing to change; give at least one option (see --help).")
    project.edit(**changes)
    emit(args, _summary(project), f"Updated project '{project.config.name}'.")


def cmd_adopt(args: argparse.Namespace) -> None:
    from openpipeline.core import legacy  # here, not at the top: only adopt needs it

    plan = legacy.plan_adoption(Path(args.root), registry=args.registry, name=args.name)
    summary = plan.summary() if args.dry_run else legacy.adopt(plan)
    if not args.dry_run:
        registry.register(plan.config.name, plan.root, activate=args.activate)
    summary["dry_run"] = args.dry_run

    def text() -> str:
        verb = "Would adopt" if args.dry_run else "Adopted"
        lines = [f"{verb} legacy project '{summary['project']}' at {summary['root']}: "
                 f"{summary['items']} items, {summary['events']} events, "
                 f"{summary['workshops']} workshops, {summary['versions']} versions, "
                 f"{summary['masters']} masters; its files are untouched."]
        lines += [f"  warning: {warning}" for warning in summary["warnings"]]
        return "\n".join(lines)

    emit(args, summary, text)
