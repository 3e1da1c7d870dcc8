"""`motcua audit verify`: check every dossier's hash-chained timeline and name the first broken link."""

import argparse
import asyncio

from gateway import runtime
from gateway.settings import Settings
from gateway.store.audit import verify_chains


def cmd_audit(settings: Settings, args: argparse.Namespace) -> int:
    with runtime.database(settings) as settings:
        report = asyncio.run(runtime.with_connection(settings.database_url, verify_chains))
    for link in report.broken or []:
        print(f"HỎNG {link}")
    verdict = "mọi chuỗi nguyên vẹn" if not report.broken else f"{len(report.broken)} chuỗi bị hỏng"
    print(f"Đã kiểm tra {report.dossiers} hồ sơ, {report.events} sự kiện: {verdict}.")
    return 1 if report.broken else 0


def register(commands: argparse._SubParsersAction) -> None:
    audit = commands.add_parser("audit", help="check the hash-chained dossier timelines")
    actions = audit.add_subparsers(dest="action", required=True)
    actions.add_parser("verify", help="verify every chain; exit 1 naming the first broken link of each").set_defaults(
        func=cmd_audit
    )
