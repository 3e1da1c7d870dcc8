"""`motcua keys create`: demo keys and certificates for the signed population-database link."""

import argparse
from pathlib import Path

from gateway.settings import Settings
from identity.keys import create_demo_keys


def cmd_keys_create(settings: Settings, args: argparse.Namespace) -> int:
    directory = Path(args.dir) if args.dir else settings.data_dir / "keys"
    for name, path in create_demo_keys(directory).items():
        print(f"{name}\t{path}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("keys", help="keys and certificates for signed population-database messages")
    actions = parser.add_subparsers(dest="keys_command", required=True)
    create = actions.add_parser("create", help="write demo key pairs and self-signed certificates if missing")
    create.add_argument("--dir", help="directory (default: <MOTCUA_DATA_DIR>/keys)")
    create.set_defaults(func=cmd_keys_create)
