"""`motcua personal-data reseal`: every stored ID and phone number under the current personal-data key, and a
look-up hash on every dossier (gateway/workflow/reseal.py). A dry run unless `--apply`."""

import argparse
import asyncio

from gateway import runtime
from gateway.app import personal_data
from gateway.settings import Settings
from gateway.workflow.reseal import reseal


def cmd_reseal(settings: Settings, args: argparse.Namespace) -> int:
    with runtime.database(runtime.with_secret(settings)) as settings:
        personal = personal_data(settings)
        report = asyncio.run(
            runtime.with_connection(settings.database_url, lambda conn: reseal(conn, personal, apply=args.apply))
        )
    verb = "Đã mã hoá lại" if report.applied else "Chạy thử, chưa ghi gì: sẽ mã hoá lại"
    rows = ", ".join(f"{count} dòng {table}" for table, count in report.rows.items())
    print(f"{verb} {rows}; {report.evidence} bằng chứng xác thực; {report.lookups} mã tra cứu theo số định danh.")
    print(f"Khoá hiện hành: {personal.current_key_id}.")
    if not report.applied and report.total:
        print("Thêm --apply để ghi thật.")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("personal-data", help="personal data at rest: encryption keys")
    actions = parser.add_subparsers(dest="action", required=True)
    command = actions.add_parser(
        "reseal", help="seal clear or old-key ID and phone numbers under the current key; a dry run unless --apply"
    )
    command.add_argument("--apply", action="store_true", help="write the changes (default: only count them)")
    command.set_defaults(func=cmd_reseal)
