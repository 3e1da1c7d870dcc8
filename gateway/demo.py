"""Demo organisations, one per role, with keys written to `.data/demo-credentials.json` (role → key)."""

import json
from pathlib import Path

import asyncpg

from gateway.store import clients

DEMO_ORGANISATIONS = (
    {"role": "postal", "name": "Bưu điện Trung tâm Hà Nội (demo)", "unit_code": "00004"},
    {"role": "counter", "name": "Bộ phận Một cửa phường Hải Vân, Đà Nẵng (demo)", "unit_code": "20194"},
    {"role": "agency", "name": "Sở Tư pháp thành phố Hà Nội (demo)", "agency_code": "000.00.10.H26"},
    {"role": "portal", "name": "Cổng Dịch vụ công quốc gia (demo)"},
    {"role": "admin", "name": "Vận hành motcua-gateway (demo)"},
)


def read_credentials(path: Path) -> dict[str, str]:
    return json.loads(path.read_text()) if path.exists() else {}


def write_credentials(path: Path, keys: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(keys, indent=2) + "\n")
    path.chmod(0o600)


async def seed_demo(conn: asyncpg.Connection, previous: dict[str, str]) -> dict[str, str]:
    """Create the demo organisations if missing; keep keys that still work, issue the others anew."""
    keys: dict[str, str] = {}
    async with conn.transaction():
        for spec in DEMO_ORGANISATIONS:
            row = await clients.find_organisation(conn, spec["name"])
            org_id = (
                row["id"]
                if row
                else await clients.create_organisation(
                    conn,
                    spec["name"],
                    spec["role"],
                    agency_code=spec.get("agency_code"),
                    unit_code=spec.get("unit_code"),
                )
            )
            old_key = previous.get(spec["role"])
            principal = await clients.authenticate(conn, old_key) if old_key else None
            keys[spec["role"]] = (
                old_key
                if principal and principal.organisation_id == org_id and old_key
                else await clients.issue_key(conn, org_id)
            )
    return keys
