"""Uploads over a real socket, for the tests that drive `motcua` processes with a plain aiohttp session (the
equivalent of `tests.samples.upload_documents`, which takes a pytest-aiohttp client)."""

from typing import Any

import aiohttp

from tests.samples import FILES


async def upload_documents_to(
    session: aiohttp.ClientSession, base: str, auth: dict[str, str], receipt: dict[str, Any]
) -> list[int]:
    """PUT every file of `receipt["upload_urls"]` (sample files only) to the gateway at `base`, as the submitter
    whose headers are `auth`; the answers' statuses, in order (201: new, 200: the same file again)."""
    statuses = []
    for sha, path in receipt["upload_urls"].items():
        headers = {**auth, "Content-Type": "application/pdf"}
        async with session.put(f"{base}{path}", data=FILES[sha], headers=headers) as answer:
            assert answer.status in (200, 201), await answer.text()
            statuses.append(answer.status)
    return statuses
