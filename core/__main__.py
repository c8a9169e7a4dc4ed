"""Command line: ``python -m core apply|run|preview|records|runs|errors|export|users|audit|secrets|demo``.

Exit codes: 0 done (a run that succeeded or ended partial), 1 a run failed,
2 a configuration or usage error (the message says what to fix).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from core.errors import TributaryError

#: The account the command line acts as when ``--as`` is not given.
USER_ENV = "TRIBUTARY_USER"
#: Commands that parse their own arguments (``python -m core profiles --help``).
_PASSED_ON = ("profiles", "scheduler", "users", "audit", "secrets")


def _print_frame(frame: pd.DataFrame, as_json: bool) -> None:
    if as_json:
        records = frame.astype(object).where(frame.notna(), None).to_dict("records")
        print(json.dumps(records, default=str, ensure_ascii=False))
    elif frame.empty:
        print("(nothing)")
    else:
        with pd.option_context("display.max_columns", 50, "display.width", 200, "display.max_colwidth", 60):
            print(frame.to_string(index=False))


class _TerminalProgress:
    """A one-line progress report on stderr, only when it is a terminal."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()

    def __call__(self, summary: Any) -> None:
        if self.enabled:
            sys.stderr.write(
                f"\r{summary.dataflow}: chunk {summary.chunks} · {summary.received:,} received · "
                f"{summary.ingested:,} ingested · {summary.failed:,} failed"
            )
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="Tributary command line.")
    parser.add_argument("--database-url", help="store URL (default: TRIBUTARY_DATABASE_URL or ./workspace)")
    parser.add_argument(
        "--as",
        dest="as_user",
        default=os.environ.get(USER_ENV) or None,
        metavar="USER",
        help=f"act as this account, with its role (default: {USER_ENV}; none: the workspace's owner)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("apply", help="create or update connections and dataflows from YAML")
    p.add_argument("path", help="a YAML file or a folder of them")

    p = sub.add_parser("run", help="run a dataflow now, in the foreground")
    p.add_argument("dataflow")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("backfill", help="ingest an incremental dataflow's history again from a date")
    p.add_argument("dataflow")
    p.add_argument("--since", required=True, help="a date (2026-01-31), a timestamp, or a number")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    sub.add_parser(
        "scheduler", help="run the scheduler in the foreground (same as python -m core.scheduler)"
    ).add_argument("options", nargs=argparse.REMAINDER, help="options of python -m core.scheduler")

    p = sub.add_parser("preview", help="show a sample of a stream")
    p.add_argument("connection")
    p.add_argument("stream")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("records", help="show a dataflow's ingested records")
    p.add_argument("dataflow")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("runs", help="show a dataflow's run history")
    p.add_argument("dataflow", nargs="?")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("errors", help="show a run's quarantined rows (or write them as CSV/JSON)")
    p.add_argument("run_id", type=int)
    p.add_argument("--json", action="store_true")
    p.add_argument("--format", choices=["csv", "json"], help="write a file for a spreadsheet or a program")
    p.add_argument("--output", help="file to write with --format (default: print)")

    p = sub.add_parser("replay", help="re-ingest a run's quarantined rows through the current mapping")
    p.add_argument("run_id", type=int)
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("export", help="write connections and dataflows as YAML (secrets as ${ENV})")
    p.add_argument("path", nargs="?", help="file to write (default: print)")

    p = sub.add_parser("dry-run", help="what a run would do now, writing nothing")
    p.add_argument("dataflow")
    p.add_argument("--sample", type=int, metavar="ROWS", help="only the first ROWS rows (default: all)")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("drift", help="how the source's columns changed since the mapping was saved")
    p.add_argument("dataflow")

    p = sub.add_parser("versions", help="list a dataflow's saved versions")
    p.add_argument("dataflow")

    p = sub.add_parser("restore", help="make an older version of a dataflow the current one")
    p.add_argument("dataflow")
    p.add_argument("version", type=int)

    p = sub.add_parser("mapping", help="print a dataflow's mapping as YAML or CSV")
    p.add_argument("dataflow")
    p.add_argument("--format", choices=["yaml", "csv"], default="yaml")

    sub.add_parser("docs", help="write docs/functions.md from the expression function registry")

    sub.add_parser(
        "profiles", help="unified profiles: show --identity NS:VALUE, stats, export PATH, rebuild"
    ).add_argument("options", nargs=argparse.REMAINDER, help="see python -m core profiles --help")

    for name, text in (
        ("users", "dashboard accounts: list, add, set, remove"),
        ("audit", "the audit log: who changed what"),
        ("secrets", "rotate the key that encrypts credentials"),
    ):
        sub.add_parser(name, help=text).add_argument("options", nargs=argparse.REMAINDER)

    sub.add_parser("demo", help="create the demo connection and dataflows, and run them")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs one command and returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # commands with their own parser take every argument after their name, options included
    at = next((i for i, word in enumerate(argv) if word in _PASSED_ON), None)
    args = _parser().parse_args(argv if at is None else argv[: at + 1])
    if at is not None:
        args.options = argv[at + 1 :]
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return _dispatch(args)
    except TributaryError as error:
        print(f"error: {error.user_message}", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace) -> int:
    from core import config

    if args.command == "profiles":
        from core.profiles.cli import main as profiles_main

        return profiles_main(args.options, _open(args))
    if args.command in ("users", "audit", "secrets"):
        from core.security import cli as security_cli

        return getattr(security_cli, f"{args.command}_main")(args.options, _open(args))
    if args.command == "scheduler":
        from core.scheduler.__main__ import main as scheduler_main

        return scheduler_main(args.options)
    if args.command == "docs":  # needs no workspace
        from core.mapping.functions import REFERENCE_PATH, write_reference

        write_reference()
        print(f"wrote {REFERENCE_PATH}")
        return 0

    workspace = _open(args)
    if args.command == "apply":
        applied = config.apply(workspace, args.path)
        print(
            f"applied {len(applied['connections'])} connection(s) "
            f"and {len(applied['dataflows'])} dataflow(s): "
            + ", ".join(applied["connections"] + applied["dataflows"])
        )
    elif args.command in ("run", "backfill"):
        from core.scheduler import backfill, run_now

        progress = _TerminalProgress() if not args.json else None
        if args.command == "run":  # the same path as the scheduler's and the dashboard's "Run now"
            summary = run_now(workspace, args.dataflow, progress=progress)
        else:
            summary = backfill(workspace, args.dataflow, args.since, progress=progress)
        if progress:
            progress.close()
        if args.json:
            print(json.dumps(summary.as_dict()))
        else:
            print(
                f"run {summary.run_id} of {summary.dataflow}: {summary.status} — "
                f"{summary.received:,} received, {summary.ingested:,} ingested, "
                f"{summary.failed:,} failed, {summary.deleted:,} deleted in {summary.duration_s:.1f}s"
            )
            if summary.error_message:
                print(summary.error_message, file=sys.stderr)
        return 1 if summary.status == "failed" else 0
    elif args.command == "preview":
        preview = workspace.preview(args.connection, args.stream, limit=args.limit)
        _print_frame(preview.frame, args.json)
    elif args.command == "records":
        _print_frame(workspace.records(args.dataflow, args.limit), args.json)
    elif args.command == "runs":
        columns = [
            "id",
            "dataflow",
            "status",
            "started_at",
            "received",
            "ingested",
            "failed",
            "duration_s",
            "error_code",
            "error_message",
        ]
        runs = workspace.runs(args.dataflow, args.limit)
        _print_frame(runs[columns] if not runs.empty else runs, args.json)
    elif args.command == "errors" and args.format:
        from core.exports import to_csv_bytes, to_json_bytes

        errors = workspace.run_errors(args.run_id)
        body = (to_csv_bytes if args.format == "csv" else to_json_bytes)(errors)
        if args.output:
            Path(args.output).write_bytes(body)
            print(f"wrote {len(errors):,} rows to {args.output}")
        else:
            sys.stdout.write(body.decode("utf-8"))
    elif args.command == "replay":
        summary = workspace.replay(args.run_id)
        if args.json:
            print(json.dumps(summary.as_dict()))
        else:
            print(
                f"replay run {summary.run_id} of {summary.dataflow}: {summary.status} — "
                f"{summary.received:,} rows replayed, {summary.ingested:,} ingested, "
                f"{summary.failed:,} still failing"
            )
        return 1 if summary.status == "failed" else 0
    elif args.command == "errors":
        errors = workspace.run_errors(args.run_id)
        columns = ["source_key", "origin", "code", "field", "reason", "row"]
        _print_frame(errors[columns] if not errors.empty else errors, args.json)
    elif args.command == "export":
        text = config.export(workspace)
        if args.path:
            Path(args.path).write_text(text, encoding="utf-8")
            print(f"wrote {args.path}")
        else:
            print(text, end="")
    elif args.command in ("dry-run", "drift", "versions", "restore", "mapping"):
        return _studio_command(workspace, args)
    elif args.command == "demo":
        from core import demo

        demo.install(workspace)
        print(
            "demo workspace ready: connection demo_files, "
            "dataflows crm_contacts, shop_orders and loyalty_members"
        )
    return 0


def _studio_command(workspace: Any, args: argparse.Namespace) -> int:
    """The mapping studio's actions on the command line."""
    studio = workspace.studio
    if args.command == "dry-run":
        report = studio.dry_run(args.dataflow, sample_rows=args.sample)
        if args.json:
            print(json.dumps(report.as_dict()))
        else:
            print(
                f"dry run of {args.dataflow} on the {'whole source' if args.sample is None else 'sample'}: "
                f"{report.received:,} received, {report.ingested:,} would be ingested "
                f"({report.new:,} new, {report.updated:,} updated), {report.quarantined:,} quarantined, "
                f"{report.deleted:,} deleted"
            )
            if not report.reasons.empty:
                _print_frame(report.reasons, False)
            if report.would_fail:
                print(report.would_fail, file=sys.stderr)
        return 1 if report.would_fail else 0
    if args.command == "drift":
        drift = studio.drift(args.dataflow)
        if drift is None:
            print("no baseline yet: the next run records the source's schema")
        elif not drift.drifted:
            print("no drift: the source has the columns the mapping was saved with")
        for change in drift.changes if drift else ():
            print(("BREAKING " if change.breaking else "") + change.message)
        return 1 if drift is not None and drift.breaking else 0
    if args.command == "versions":
        _print_frame(studio.versions(args.dataflow).drop(columns=["spec"]), False)
    elif args.command == "restore":
        version = studio.restore_version(args.dataflow, args.version)
        print(f"restored version {args.version} of {args.dataflow} as version {version}")
    elif args.command == "mapping":
        print(studio.export_mapping(workspace.dataflow_spec(args.dataflow), args.format), end="")
    return 0


def _open(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The workspace, acting for ``--as USER`` when given (its role then holds on every action)."""
    from core.services import Workspace

    workspace = Workspace.open(args.database_url)
    if args.as_user:
        workspace = workspace.as_actor(workspace.users.actor_of(args.as_user))
    return workspace


if __name__ == "__main__":
    sys.exit(main())
