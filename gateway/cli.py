"""`motcua`: run the demo, serve, migrate, manage clients and keys."""

import argparse
import asyncio
import sys

import asyncpg

from gateway import demo, runtime, server
from gateway.app import create_app
from gateway.commands import register_all
from gateway.demo import read_credentials, seed_demo, write_credentials
from gateway.logging import configure_logging
from gateway.settings import Settings
from gateway.store import clients
from gateway.store.migrate import migrate


def _serve(settings: Settings) -> None:
    server.serve(create_app(settings), settings)


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    """The demo: embedded PostgreSQL (unless a URL is set), the population-register simulator (unless one is
    configured), migrations, demo clients, an outbox worker, then serve."""
    settings = runtime.with_secret(settings)
    with runtime.database(settings) as settings:
        credentials = settings.data_dir / "demo-credentials.json"

        async def prepare(conn: asyncpg.Connection) -> dict[str, str]:
            return await seed_demo(conn, previous)

        previous = read_credentials(credentials)
        write_credentials(credentials, asyncio.run(runtime.with_connection(settings.database_url, prepare)))
        settings, register = demo.simulated_register(settings)
        base = f"http://{settings.host}:{settings.port}"
        settings, vnpost = demo.simulated_postal(settings, base)
        settings, portal = demo.simulated_portal(
            settings, base, read_credentials(credentials)["portal"], settings.port + 2
        )
        app = create_app(settings, with_worker=True)
        if register is not None:
            app.cleanup_ctx.insert(0, register)  # up before the gateway loads its WSDL
        for simulator in (vnpost, portal):
            if simulator is not None:
                app.cleanup_ctx.insert(0, simulator)
        agency, agency_url = demo.simulated_agency(base, settings.port + 1)
        app.cleanup_ctx.append(agency)  # after the database: it records the agency's endpoint
        print(
            f"\nmotcua-gateway đang chạy tại {base}\n"
            f"  Khóa truy cập demo (vai trò → khóa): {credentials}\n"
            f"  Tài liệu API:   {base}/openapi.json\n"
            f"  Sẵn sàng:       {base}/readyz\n"
            f"  CSDL dân cư (mô phỏng, SOAP): {settings.identity_url}?wsdl\n"
            f"  Cơ quan nhận hồ sơ đẩy (mô phỏng): {demo.PUSH_AGENCY_NAME} tại {agency_url}/inbox,"
            f" đã nhận: {agency_url}/_simulator/received\n"
            f"  VNPost (mô phỏng, gửi kết quả qua bưu điện): {settings.postal_url}/_simulator/orders\n"
            f"  Cổng DVCQG (mô phỏng, đồng bộ hồ sơ): {settings.dvcqg_url}/_simulator/dossiers\n"
            f"  Thử theo mục 'Try it' trong README.md. Nhấn Ctrl-C để dừng (PostgreSQL riêng cũng dừng theo).\n",
            flush=True,
        )
        server.serve(app, settings)
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.database_url:
        print("MOTCUA_DATABASE_URL is not set; use `motcua run` for the embedded demo.", file=sys.stderr)
        return 2
    _serve(settings)
    return 0


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    with runtime.database(settings, up_to_date=False) as settings:
        applied = asyncio.run(runtime.with_connection(settings.database_url, migrate))
    print(f"applied: {applied}" if applied else "schema is up to date")
    return 0


def cmd_clients(settings: Settings, args: argparse.Namespace) -> int:
    async def work(conn: asyncpg.Connection) -> int:
        if args.action == "add":
            async with conn.transaction():
                org_id = await clients.create_organisation(
                    conn, args.name, args.role, agency_code=args.agency_code, unit_code=args.unit_code
                )
                key = await clients.issue_key(conn, org_id)
            print(f"organisation {org_id} ({args.role}) created. Its key, shown only this once:\n{key}")
        elif args.action == "key":
            row = await clients.find_organisation(conn, args.name)
            if row is None:
                print(f"no organisation named {args.name!r}", file=sys.stderr)
                return 1
            print(
                f"new key for {args.name} (older keys stay valid until revoked), shown only once:\n"
                f"{await clients.issue_key(conn, row['id'])}"
            )
        elif args.action == "list":
            for row in await clients.list_clients(conn):
                state = "revoked" if row["revoked_at"] else ("active" if row["prefix"] else "no key")
                print(
                    f"{row['id']:>4}  {row['role']:<8} {row['name']:<50} "
                    f"{row['agency_code'] or row['unit_code'] or '-':<16} {row['prefix'] or '-':<14} {state}"
                )
        elif args.action == "revoke":
            if not await clients.revoke_key(conn, args.prefix):
                print(f"no active key with prefix {args.prefix}", file=sys.stderr)
                return 1
            print(f"key {args.prefix} revoked")
        return 0

    if args.action == "add" and args.role == "agency" and not args.agency_code:
        print("an agency needs --agency-code (its electronic identifier)", file=sys.stderr)
        return 2
    with runtime.database(settings) as settings:
        return asyncio.run(runtime.with_connection(settings.database_url, work))


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="motcua", description="motcua-gateway")
    commands = top.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="demo: embedded PostgreSQL, demo clients, serve").set_defaults(func=cmd_run)
    commands.add_parser("serve", help="serve against MOTCUA_DATABASE_URL").set_defaults(func=cmd_serve)
    commands.add_parser("migrate", help="apply schema migrations").set_defaults(func=cmd_migrate)
    client_cmd = commands.add_parser("clients", help="organisations and their API keys")
    client_cmd.set_defaults(func=cmd_clients)
    actions = client_cmd.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="create an organisation and its first key")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=clients.ROLES)
    add.add_argument("--agency-code", help="agencies: the electronic identifier dossiers are routed to")
    add.add_argument("--unit-code", help="counters and post offices: their commune code")
    key = actions.add_parser("key", help="issue another key for an organisation (rotation with overlap)")
    key.add_argument("name")
    actions.add_parser("list", help="organisations and key prefixes")
    revoke = actions.add_parser("revoke", help="revoke one key by its prefix")
    revoke.add_argument("prefix")
    register_all(commands)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_level, settings.log_json)
    return args.func(settings, args)


if __name__ == "__main__":
    sys.exit(main())
