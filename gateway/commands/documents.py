"""`motcua documents purge`: remove the files of dossiers finished longer ago than the retention period
(MOTCUA_DOCUMENT_RETENTION_DAYS), keeping their hashes and metadata. A dry run unless `--apply`."""

import argparse
import asyncio
from datetime import UTC, datetime, timedelta

from gateway import runtime
from gateway.app import content_store
from gateway.settings import Settings
from gateway.workflow.retention import purge


def cmd_purge(settings: Settings, args: argparse.Namespace) -> int:
    days = args.older_than_days if args.older_than_days is not None else settings.document_retention_days
    closed_before = datetime.now(UTC) - timedelta(days=days)
    with runtime.database(settings) as settings:
        store = content_store(settings)
        report = asyncio.run(
            runtime.with_connection(
                settings.database_url, lambda conn: purge(conn, store, closed_before, apply=args.apply)
            )
        )
    verb = "Đã xóa" if report.applied else "Chạy thử, chưa xóa gì: sẽ xóa"
    print(
        f"{verb} {report.files} tệp ({report.bytes} byte) của {report.dossiers} hồ sơ kết thúc trước"
        f" {closed_before:%d/%m/%Y}, và {report.orphans} tệp không thuộc hồ sơ nào."
    )
    print("Mã băm và thông tin giấy tờ vẫn được giữ làm bằng chứng.")
    if not report.applied:
        print("Thêm --apply để xóa thật.")
    return 0


def _days(text: str) -> int:
    if not text.isdigit() or int(text) < 0:
        raise argparse.ArgumentTypeError(f"a number of days: {text!r}")
    return int(text)


def register(commands: argparse._SubParsersAction) -> None:
    documents = commands.add_parser("documents", help="document files: retention")
    actions = documents.add_subparsers(dest="action", required=True)
    purging = actions.add_parser("purge", help="remove files of long-finished dossiers (dry run unless --apply)")
    purging.add_argument("--apply", action="store_true", help="really delete (default: only report)")
    purging.add_argument(
        "--older-than-days", type=_days, default=None, help="finished longer ago than this (default: the setting)"
    )
    purging.set_defaults(func=cmd_purge)
