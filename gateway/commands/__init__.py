"""`motcua` subcommands beyond the core ones in gateway/cli.py: one module per topic, each exposing
`register(commands)` which adds its parsers to the `motcua` subparsers and sets `func(settings, args)`."""

import importlib
import pkgutil
from argparse import _SubParsersAction


def register_all(commands: _SubParsersAction) -> None:
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        importlib.import_module(f"{__name__}.{module.name}").register(commands)
