"""When every step has its result, it goes back to the citizen the way the dossier chose: at the counter
(the lead agency reports `returned`), or by post, where a result-delivery order is queued for VNPost naming
the result documents it carries."""

import asyncpg

from gateway.store import documents, outbox


async def result_ready(conn: asyncpg.Connection, dossier: asyncpg.Record) -> None:
    """Call in the transaction that made the dossier `result_ready`."""
    return_method = dossier["body"]["return_method"]
    if return_method["type"] != "postal":
        return
    results = await documents.list_for(conn, dossier["id"], "result")
    await outbox.enqueue(
        conn,
        outbox.POSTAL_RESULT_ORDER,
        dossier_id=dossier["id"],
        target=None,
        payload={
            "dossier_code": dossier["code"],
            "receiver": return_method,
            "documents": [
                {"name": row["name"], "sha256": row["sha256"], "size": row["size"], "media_type": row["media_type"]}
                for row in results
            ],
        },
    )
