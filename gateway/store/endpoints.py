"""Agency push endpoints (table agency_endpoints): an agency listed and enabled here gets pushes."""

import asyncpg


async def get_endpoint(conn: asyncpg.Connection, agency_code: str) -> asyncpg.Record | None:
    """The agency's endpoint row (agency_code, url, enabled, updated_at), or None: a pull agency."""
    return await conn.fetchrow("SELECT * FROM agency_endpoints WHERE agency_code = $1", agency_code)


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
