"""``python -m core profiles show|stats|export|rebuild``: unified profiles on the command line.

Exit codes, as the rest of the CLI: 0 done, 1 no profile has that identity,
2 a configuration or usage error (the message says what to fix).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from core.errors import ConfigurationError, TributaryError

if TYPE_CHECKING:
    from core.services import Workspace


def parser() -> argparse.ArgumentParser:
    """The ``profiles`` command's arguments."""
    root = argparse.ArgumentParser(prog="python -m core profiles", description="Unified customer profiles.")
    root.add_argument("--database-url", help="store URL (default: TRIBUTARY_DATABASE_URL or ./workspace)")
    sub = root.add_subparsers(dest="action", required=True)

    show = sub.add_parser("show", help="one profile: attributes and their sources, identities, why merged")
    show.add_argument(
        "--identity", required=True, metavar="NAMESPACE:VALUE", help="e.g. email:ann@example.com"
    )
    show.add_argument("--policy", help="merge policy (default: the workspace's default policy)")
    show.add_argument("--json", action="store_true", help="print one JSON object")

    stats = sub.add_parser("stats", help="profiles, records, identities per namespace, merge rate")
    stats.add_argument("--json", action="store_true", help="print one JSON object")

    export = sub.add_parser("export", help="write every unified profile to CSV or Parquet")
    export.add_argument("path")
    export.add_argument(
        "--format", choices=["csv", "parquet"], help="default: from the file's suffix, else csv"
    )
    export.add_argument("--policy", help="merge policy (default: the workspace's default policy)")
    export.add_argument("--chunk-size", type=int, default=10_000, help="profiles per chunk (bounds memory)")
    sub.add_parser(
        "rebuild",
        help="relink every record under the current identity rules (after changing them, or on an older "
        "workspace)",
    )
    return root


def main(argv: list[str] | None = None, workspace: Workspace | None = None) -> int:
    """Runs one ``profiles`` action and returns the exit code.

    Args:
        argv: the arguments after ``profiles``.
        workspace: an open workspace (``python -m core`` passes its own); opened from
            ``--database-url`` or the environment when None.
    """
    args = parser().parse_args(argv)
    try:
        if workspace is None:
            from core.services import Workspace

            workspace = Workspace.open(args.database_url)
        return _dispatch(workspace, args)
    except TributaryError as error:
        print(f"error: {error.user_message}", file=sys.stderr)
        return 2


def _dispatch(workspace: Workspace, args: argparse.Namespace) -> int:
    profiles = workspace.profiles
    if args.action == "show":
        namespace, _, value = args.identity.partition(":")
        if not namespace.strip() or not value.strip():
            raise ConfigurationError("--identity takes NAMESPACE:VALUE, e.g. email:ann@example.com")
        namespace = namespace.strip()
        profile = profiles.lookup(namespace, value, args.policy)
        if profile is None:
            _, why = profiles.normalise(namespace, value)
            print(
                f"no profile has {namespace}:{value.strip()}" + (f" ({why})" if why else ""), file=sys.stderr
            )
            return 1
        if args.json:
            print(json.dumps(profile.as_dict(), default=_json_value, ensure_ascii=False))
        else:
            _print_profile(profile)
    elif args.action == "stats":
        stats = profiles.stats()
        if args.json:
            plain = {**stats, "combinations": stats["combinations"].to_dict("records")}
            print(json.dumps(plain, default=_json_value))
        else:
            _print_stats(stats)
    elif args.action == "rebuild":
        counts = profiles.rebuild()
        print(
            f"rebuilt the identity graph: {counts['records']:,} records in {counts['profiles']:,} profiles "
            f"({counts['decisions']:,} decisions recorded)"
        )
    elif args.action == "export":
        from core.profiles.export import export_profiles

        summary = export_profiles(
            workspace, args.path, args.format, policy=args.policy, chunk_size=args.chunk_size
        )
        print(
            f"wrote {summary.profiles:,} profiles ({len(summary.columns)} columns, {summary.format}) "
            f"to {summary.path}"
        )
    return 0


def _print_profile(profile: Any) -> None:
    print(
        f"profile {profile.profile_id} · {profile.members} record(s) from {', '.join(profile.dataflows)} "
        f"· policy {profile.policy}"
    )
    for title, frame in (
        ("attributes", profile.attributes),
        ("identities", profile.identities),
        ("why merged", profile.trail.drop(columns=["created_at"])),
    ):
        print(f"\n{title}:")
        _print_frame(frame)


def _print_stats(stats: dict[str, Any]) -> None:
    print(
        f"{stats['profiles']:,} profiles from {stats['records']:,} records "
        f"({stats['records_per_profile']:.2f} records per profile; "
        f"{stats['merged_profiles']:,} merged, {stats['merged_share']:.1%})"
    )
    if stats["identities"]:
        print("identities: " + ", ".join(f"{ns} {n:,}" for ns, n in stats["identities"].items()))
    if stats["records_by_dataflow"]:
        print("records: " + ", ".join(f"{name} {n:,}" for name, n in stats["records_by_dataflow"].items()))
    print("\nprofiles per source combination:")
    _print_frame(stats["combinations"])


def _print_frame(frame: pd.DataFrame) -> None:
    if frame.empty:
        print("(nothing)")
        return
    with pd.option_context("display.max_columns", 50, "display.width", 200, "display.max_colwidth", 60):
        print(frame.to_string(index=False))


def _json_value(value: Any) -> Any:
    """JSON for what ``json`` cannot write: times in ISO 8601, numpy scalars as numbers."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
