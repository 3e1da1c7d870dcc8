"""`motcua catalog check|list`: validate the procedure catalog and agency directory, or list procedures."""

import argparse
from argparse import _SubParsersAction
from collections import Counter
from pathlib import Path

from gateway.settings import Settings
from mapping.catalog import CATALOG_DIR, Catalog, Procedure, check_catalog
from mapping.directory import generated_agencies, province_names


def _directory(settings: Settings, args: argparse.Namespace) -> Path:
    return args.dir or settings.catalog_dir or CATALOG_DIR


def _load(settings: Settings, args: argparse.Namespace) -> Catalog | None:
    catalog, problems = check_catalog(_directory(settings, args))
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in {_directory(settings, args)}")
    return catalog


def _kinds(procedure: Procedure) -> str:
    if procedure.steps:
        return " → ".join(step.agency_kind for step in sorted(procedure.steps, key=lambda s: s.order))
    return procedure.agency_kind


def _coverage(catalog: Catalog) -> list[str]:
    """For every agency kind a procedure uses: in how many provinces (or communes) there is one."""
    used = set()
    for procedure in catalog.all_versions():
        for part in (procedure, *procedure.steps):
            if part.jurisdiction != "fixed":
                used.add((part.agency_kind, part.level))
    provinces = len(province_names())
    communes = len({a.commune_code for a in generated_agencies()})
    lines = []
    for kind, level in sorted(used):
        agencies = [a for a in catalog.agencies_of_kind(kind) if a.level == level]
        if level == "province":
            lines.append(f"  {kind} ({level}): {len({a.province_code for a in agencies})}/{provinces} provinces")
        elif level == "commune":
            lines.append(f"  {kind} ({level}): {len({a.commune_code for a in agencies})}/{communes} communes")
        else:
            lines.append(f"  {kind} ({level}): {len(agencies)} agencies")
    return lines


def cmd_check(settings: Settings, args: argparse.Namespace) -> int:
    catalog = _load(settings, args)
    if catalog is None:
        return 1
    latest = catalog.procedures()
    generated = len(generated_agencies())
    print(f"catalog {_directory(settings, args)}: OK")
    print(f"procedures: {len(latest)} ({sum(1 for _ in catalog.all_versions())} versions)")
    print(f"agencies: {len(catalog.agencies) - generated} listed, {generated} generated")
    print("procedures by sector:")
    for sector, count in sorted(Counter(p.sector for p in latest).items()):
        print(f"  {sector}: {count}")
    print("agencies per kind used by the procedures:")
    for line in _coverage(catalog):
        print(line)
    return 0


def cmd_list(settings: Settings, args: argparse.Namespace) -> int:
    catalog = _load(settings, args)
    if catalog is None:
        return 1
    for p in sorted(catalog.procedures(), key=lambda p: p.code):
        print("\t".join((p.code, p.name, p.sector, p.level, _kinds(p), p.non_geographic)))
    return 0


def register(commands: _SubParsersAction) -> None:
    catalog = commands.add_parser("catalog", help="the procedure catalog and agency directory")
    actions = catalog.add_subparsers(dest="action", required=True)
    for name, func, text in (
        ("check", cmd_check, "validate the catalog files; every problem as file:line: field: message"),
        ("list", cmd_list, "latest version of every procedure: code, name, sector, level, agency kind, scope"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("--dir", type=Path, help="catalog folder (default: MOTCUA_CATALOG_DIR or the bundled one)")
        action.set_defaults(func=func)
