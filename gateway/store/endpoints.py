"""Agency push endpoints (table agency_endpoints): an agency listed and enabled here gets pushes."""

import asyncpg


async def endpoint_and_dossier(
    conn: asyncpg.Connection, agency_code: str, dossier_id: int
) -> tuple[dict | None, dict | None]:
    """What a push needs, in one read: the agency's endpoint (url, enabled; None: a pull agency) and the
    dossier's code and identity status (None: no such dossier). One row whether or not either exists."""
    row = await conn.fetchrow(
        "SELECT e.url, e.enabled, d.code, d.identity_status FROM (SELECT 1) AS one"
        " LEFT JOIN agency_endpoints e ON e.agency_code = $1 LEFT JOIN dossiers d ON d.id = $2",
        agency_code,
        dossier_id,
    )
    endpoint = {"url": row["url"], "enabled": row["enabled"]} if row["url"] is not None else None
    dossier = {"code": row["code"], "identity_status": row["identity_status"]} if row["code"] is not None else None
    return endpoint, dossier


async def set_endpoint(conn: asyncpg.Connection, agency_code: str, url: str, *, enabled: bool = True) -> bool:
    """Create or replace the agency's endpoint; True when it is new."""
    return await conn.fetchval(
        "INSERT INTO agency_endpoints (agency_code, url, enabled) VALUES ($1, $2, $3)"
        " ON CONFLICT (agency_code) DO UPDATE SET url = EXCLUDED.url, enabled = EXCLUDED.enabled, updated_at = now()"
        " RETURNING xmax = 0",
        agency_code,
        url,
        enabled,
    )


async def delete_endpoint(conn: asyncpg.Connection, agency_code: str) -> bool:
    """Remove the endpoint (the agency goes back to its pull inbox); False when there was none."""
    deleted = await conn.fetchval("DELETE FROM agency_endpoints WHERE agency_code = $1 RETURNING 1", agency_code)
    return deleted is not None


async def list_endpoints(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM agency_endpoints ORDER BY agency_code")
