"""The agency simulator's control endpoints, as the push tests drive them over HTTP."""

from typing import Any

import aiohttp


async def simulator(url: str, behaviour: dict[str, Any] | None = None) -> dict[str, Any]:
    """Set the simulator's behaviour (e.g. {"mode": "down", "seconds": 2}) if given, then return what it has
    received: {"messages": {id: count}, "dossiers": [...], "rejected": n, "mode": ...}."""
    async with aiohttp.ClientSession() as session:
        if behaviour is not None:
            async with session.post(f"{url}/_simulator/behaviour", json=behaviour) as answer:
                assert answer.status == 200, await answer.text()
        async with session.get(f"{url}/_simulator/received") as answer:
            return await answer.json()
