"""`motcua outbox list` and `motcua outbox replay`: look at the outbox, and put dead-lettered messages back.

A message is dead-lettered when it still fails after MOTCUA_OUTBOX_RETRY_BUDGET_SECONDS; replaying it
makes it pending and due now, for any running `motcua worker` to take.
"""

import argparse
import asyncio
import sys
import uuid
from datetime import UTC, datetime

import asyncpg

from gateway import runtime
from gateway.settings import Settings
from gateway.store import outbox


def _uuid(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a message id (UUID): {text!r}") from None


def _limit(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 10_000:
        raise argparse.ArgumentTypeError(f"limit must be 1..10000: {text!r}")
    return int(text)


def _age(created_at: datetime) -> str:
    seconds = int((datetime.now(UTC) - created_at).total_seconds())
    if seconds >= 86_400:
        return f"{seconds // 86_400}d{seconds % 86_400 // 3600}h"
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60}m"
    return f"{seconds // 60}m{seconds % 60}s"


def _show(row: asyncpg.Record) -> str:
    line = (
        f"{row['message_id']}  {row['kind']:<22} {row['status']:<9} attempts={row['attempts']:<3}"
        f" age={_age(row['created_at']):<7} dossier={row['dossier_code'] or '-'}"
    )
    if row["last_error"]:
        line += f"  last_error={row['last_error']}"
    return line


def cmd_outbox(settings: Settings, args: argparse.Namespace) -> int:
    async def work(conn: asyncpg.Connection) -> int:
        if args.action == "list":
            rows = await outbox.list_messages(conn, status=args.status, kind=args.kind, limit=args.limit)
            for row in rows:
                print(_show(row))
            if not rows:
                print("(no messages)")
            return 0
        if args.all_dead:
            count = await outbox.replay_all_dead(conn, kind=args.kind)
            print(f"Replayed {count} dead message(s); a running worker delivers them.")
            return 0
        if not await outbox.replay(conn, args.message_id):
            print(f"No dead message {args.message_id}.", file=sys.stderr)
            return 1
        print(f"Replayed {args.message_id}: pending, due now.")
        return 0

    if args.action == "replay" and (args.message_id is None) == (not args.all_dead):
        print("Give either MESSAGE_ID or --all-dead.", file=sys.stderr)
        return 2
    if args.action == "replay" and args.kind and not args.all_dead:
        print("--kind goes with --all-dead.", file=sys.stderr)
        return 2
    with runtime.database(settings) as settings:  # the schema is brought up to date first
        return asyncio.run(runtime.with_connection(settings.database_url, work))


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("outbox", help="list outbox messages; replay dead-lettered ones")
    parser.set_defaults(func=cmd_outbox)
    actions = parser.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="messages, newest first")
    listing.add_argument("--status", choices=outbox.STATUSES)
    listing.add_argument("--kind", help="e.g. identity.verify, agency.deliver")
    listing.add_argument("--limit", type=_limit, default=100, help="default 100")
    replay = actions.add_parser("replay", help="put a dead message (or every dead one) back to pending")
    replay.add_argument("message_id", nargs="?", type=_uuid, help="the message's id (UUID)")
    replay.add_argument("--all-dead", action="store_true", help="every dead message")
    replay.add_argument("--kind", help="with --all-dead: only this kind")
