"""`motcua dvcqg reconcile`: compare a period's dossiers with what the National Public Service Portal holds,
list every difference, and queue a sync for each dossier that is behind (workflow/dvcqg_reconcile.py)."""

import argparse
import asyncio
import sys
from datetime import date

import asyncpg

from adapters.dvcqg.client import PortalClient
from adapters.dvcqg.errors import PortalError
from gateway import runtime
from gateway.settings import Settings
from gateway.workflow.dvcqg import portal_config
from gateway.workflow.dvcqg_reconcile import Reconciliation, reconcile

BAR_WIDTH = 30


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _bar(done: int, total: int) -> None:
    """A progress bar on a terminal; nothing when the output goes to a file or a pipe."""
    if not sys.stderr.isatty():
        return
    filled = BAR_WIDTH * done // max(total, 1)
    end = "\n" if done >= total else ""
    print(f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total} dossiers", end=end, file=sys.stderr)


def _report(result: Reconciliation, requeue: bool) -> None:
    for difference in result.differences:
        print(difference.line())
    counts = ", ".join(f"{kind} {count}" for kind, count in sorted(result.counts().items())) or "none"
    print(f"{result.dossiers} dossiers in the period, {result.held} held by the portal; differences: {counts}.")
    if requeue:
        print(f"Queued a sync for {result.requeued} dossier(s); a running worker sends what is missing.")


def cmd_reconcile(settings: Settings, args: argparse.Namespace) -> int:
    config = portal_config(settings)
    if config is None:
        print("MOTCUA_DVCQG_URL is not set: there is no portal to compare with.", file=sys.stderr)
        return 2
    if args.last < args.first:
        print("--to is before --from.", file=sys.stderr)
        return 2

    async def work(conn: asyncpg.Connection) -> int:
        async with PortalClient(config) as client:
            try:
                result = await reconcile(
                    conn,
                    client,
                    args.first,
                    args.last,
                    batch_size=config.batch_size,
                    requeue=not args.dry_run,
                    progress=_bar,
                )
            except PortalError as error:
                print(f"The portal could not be asked: {error}", file=sys.stderr)
                return 1
        _report(result, not args.dry_run)
        return 0

    with runtime.database(settings) as settings:
        return asyncio.run(runtime.with_connection(settings.database_url, work))


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("dvcqg", help="the National Public Service Portal (DVCQG)")
    actions = parser.add_subparsers(dest="action", required=True)
    check = actions.add_parser("reconcile", help="compare a period's dossiers with the portal; re-queue what is behind")
    check.add_argument("--from", dest="first", type=_day, required=True, help="first day received (YYYY-MM-DD)")
    check.add_argument("--to", dest="last", type=_day, required=True, help="last day received (YYYY-MM-DD)")
    check.add_argument("--dry-run", action="store_true", help="only list the differences")
    check.set_defaults(func=cmd_reconcile)
