"""`motcua route`: why a dossier goes where it goes, for support staff answering citizens and counters."""

import argparse
import json
from datetime import datetime

from gateway.settings import Settings
from mapping import IntakePoint, MappingError, RoutingRequest, UnitInput, decide, load_catalog, resolve_unit
from mapping.calendar import VN_TZ


def _when(text: str | None) -> datetime:
    if not text:
        return datetime.now(VN_TZ)
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=VN_TZ)


def cmd_route(settings: Settings, args: argparse.Namespace) -> int:
    catalog = load_catalog(settings.catalog_dir)
    try:
        intake_unit = resolve_unit(args.intake_unit, field="--intake-unit") if args.intake_unit else None
        decision = decide(
            catalog,
            RoutingRequest(
                procedure_code=args.procedure,
                residence=UnitInput(args.residence, args.system, args.new_commune),
                intake=IntakePoint(args.channel, intake_unit),
                at=_when(args.at),
                subject=UnitInput(args.subject, args.subject_system) if args.subject else None,
            ),
        )
    except MappingError as error:
        if args.json:
            print(
                json.dumps(
                    {
                        "code": error.code,
                        "message": error.message,
                        "field": error.field,
                        "candidates": error.candidates,
                    },
                    ensure_ascii=False,
                    indent=2,
                )
            )
        else:
            print(f"Không định tuyến được ({error.code}): {error.message}")
            for candidate in error.candidates:
                print(f"  - {candidate.get('code')} {candidate.get('name')}")
        return 1
    explanation = decision.explain() | {
        "residence": decision.residence.as_dict(),
        "subject_location": decision.subject.as_dict() if decision.subject else None,
    }
    if args.json:
        print(json.dumps(explanation, ensure_ascii=False, indent=2))
        return 0
    procedure = decision.procedure
    print(f"Thủ tục {procedure.code} — {procedure.name} (bản áp dụng từ {procedure.effective_from:%d/%m/%Y})")
    print(
        f"Nơi cư trú: {args.residence} ({args.system}) → {decision.residence.commune_name}, "
        f"{decision.residence.province_name}"
    )
    for step in decision.steps:
        print(f"Bước {step.order}: {step.name}")
        print(f"  Cơ quan: {step.agency.name} [{step.agency.identifier}]")
        print(f"  Lý do:   {step.rule}")
    print(f"Phạm vi tiếp nhận phi địa giới: {procedure.non_geographic}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("route", help="show which agency a dossier goes to, and why")
    parser.add_argument("procedure", help="procedure code, e.g. 2.000488")
    parser.add_argument("--residence", required=True, help="applicant's commune code")
    parser.add_argument("--system", choices=("2025", "legacy"), default="2025", help="code system of --residence")
    parser.add_argument("--new-commune", help="for a legacy ward split over several communes: the new commune")
    parser.add_argument("--subject", help="where the land or property lies (commune code)")
    parser.add_argument("--subject-system", choices=("2025", "legacy"), default="2025")
    parser.add_argument("--channel", choices=("postal", "counter", "online"), default="counter")
    parser.add_argument("--intake-unit", help="commune code of the counter or post office that took the dossier")
    parser.add_argument("--at", help="receipt time, ISO 8601 (default: now, Vietnam time)")
    parser.add_argument("--json", action="store_true", help="print the explanation as JSON")
    parser.set_defaults(func=cmd_route)
