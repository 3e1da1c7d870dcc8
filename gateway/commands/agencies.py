"""`motcua agencies`: the push endpoints of agencies (set-endpoint, remove-endpoint, list-endpoints).

An agency with an enabled endpoint gets its deliveries pushed (a signed JSON POST); any other agency reads
its pull inbox. Running workers see a change on their next claim.
"""

import argparse
import asyncio
import sys
from urllib.parse import urlsplit

import asyncpg

from gateway import runtime
from gateway.settings import Settings
from gateway.store import endpoints
from mapping import MappingError, load_catalog
from mapping.calendar import VN_TZ


def _url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise argparse.ArgumentTypeError(f"not an http(s) URL: {text!r}")
    return text


def _catalog_note(settings: Settings, agency_code: str) -> str | None:
    try:
        agency = load_catalog(settings.catalog_dir).agencies.get(agency_code)
    except MappingError:
        return None
    if agency is None:
        return f"Lưu ý: mã {agency_code} không có trong danh mục cơ quan; chưa hồ sơ nào được chuyển đến mã này."
    if agency.delivery != "push":
        return f"Lưu ý: danh mục ghi cơ quan {agency_code} nhận hồ sơ kiểu '{agency.delivery}'."
    return None


def cmd_agencies(settings: Settings, args: argparse.Namespace) -> int:
    async def work(conn: asyncpg.Connection) -> int:
        if args.action == "set-endpoint":
            created = await endpoints.set_endpoint(conn, args.agency_code, args.url, enabled=not args.disabled)
            state = "tạm dừng" if args.disabled else "đang dùng"
            verb = "Đã thêm" if created else "Đã cập nhật"
            print(f"{verb} địa chỉ nhận hồ sơ của {args.agency_code}: {args.url} ({state})")
            if urlsplit(args.url).scheme != "https":
                print("Cảnh báo: địa chỉ không dùng https.", file=sys.stderr)
            note = _catalog_note(settings, args.agency_code)
            if note:
                print(note)
            return 0
        if args.action == "remove-endpoint":
            if not await endpoints.delete_endpoint(conn, args.agency_code):
                print(f"{args.agency_code} không có địa chỉ nhận hồ sơ đã lưu.", file=sys.stderr)
                return 1
            print(f"Đã xóa địa chỉ của {args.agency_code}; cơ quan nhận hồ sơ qua hộp thư (pull).")
            return 0
        rows = await endpoints.list_endpoints(conn)
        for row in rows:
            state = "enabled" if row["enabled"] else "disabled"
            updated = row["updated_at"].astimezone(VN_TZ)
            print(f"{row['agency_code']:<16} {state:<8} {updated:%Y-%m-%d %H:%M}  {row['url']}")
        if not rows:
            print("(chưa có cơ quan nào nhận hồ sơ kiểu push)")
        return 0

    with runtime.database(settings) as settings:  # the schema is brought up to date first
        return asyncio.run(runtime.with_connection(settings.database_url, work))


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("agencies", help="agency push endpoints (signed deliveries)")
    parser.set_defaults(func=cmd_agencies)
    actions = parser.add_subparsers(dest="action", required=True)
    set_endpoint = actions.add_parser("set-endpoint", help="push this agency's deliveries to URL")
    set_endpoint.add_argument("agency_code", help="the agency's electronic identifier, e.g. 000.00.10.H26")
    set_endpoint.add_argument("url", type=_url, help="https URL receiving the POSTs")
    set_endpoint.add_argument("--disabled", action="store_true", help="store it but keep the agency on pull")
    remove = actions.add_parser("remove-endpoint", help="back to the pull inbox")
    remove.add_argument("agency_code")
    actions.add_parser("list-endpoints", help="the stored endpoints")
