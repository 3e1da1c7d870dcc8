"""How a dossier reaches each status through the real API (agency events, the pull acknowledgement, the
submitter's withdrawal): shared by the lifecycle tests and the portal sync tests."""

from datetime import UTC, datetime, timedelta

DVCQG = {
    "received": 2,
    "forwarded": 2,
    "processing": 4,
    "supplement_requested": 5,
    "payment_requested": 6,
    "withdrawn": 7,
    "stopped": 8,
    "refused": 3,
    "result_ready": 9,
    "returned": 10,
}
BODIES = {
    "supplement_requested": {
        "missing_components": ["Bản sao giấy khai sinh", "Ảnh 4x6"],
        "note": "Bổ sung trong 5 ngày",
    },
    "payment_requested": {"amounts": [{"name": "Lệ phí", "amount": 100000}, {"name": "Phí in", "amount": 0}]},
    "stopped": {"reason": "Công dân không bổ sung hồ sơ đúng hạn"},
    "refused": {"reason": "Hồ sơ không thuộc thẩm quyền"},
    "apology": {"new_appointment_at": (datetime.now(UTC) + timedelta(days=30)).isoformat()},
}
# How a dossier reaches each status: agency events, plus "ack" (pull acknowledgement) and "withdraw".
PATHS = {
    "received": [],
    "forwarded": ["ack"],
    "processing": ["accepted"],
    "supplement_requested": ["accepted", "supplement_requested"],
    "payment_requested": ["accepted", "payment_requested"],
    "withdrawn": ["withdraw"],
    "stopped": ["accepted", "stopped"],
    "refused": ["refused"],
    "result_ready": ["accepted", "result_ready"],
    "returned": ["accepted", "result_ready", "returned"],
}


async def agency_event(client, orgs, code, event_type, **fields):
    body = {"type": event_type, **BODIES.get(event_type, {}), **fields}
    return await client.post(f"/v1/agency/dossiers/{code}/events", json=body, headers=orgs.agency.auth)


async def bring(client, orgs, code, status) -> None:
    for step in PATHS[status]:
        if step == "ack":
            inbox = await (await client.get("/v1/agency/inbox", headers=orgs.agency.auth)).json()
            (message,) = [m for m in inbox["items"] if m["dossier_code"] == code]
            answer = await client.post(f"/v1/agency/inbox/{message['message_id']}/ack", headers=orgs.agency.auth)
        elif step == "withdraw":
            answer = await client.post(f"/v1/dossiers/{code}/withdraw", headers=orgs.postal.auth)
        else:
            answer = await agency_event(client, orgs, code, step)
        assert answer.status in (200, 201), await answer.text()
    assert await dossier_status(client, orgs, code) == status


async def dossier_view(client, orgs, code) -> dict:
    answer = await client.get(f"/v1/dossiers/{code}", headers=orgs.admin.auth)
    assert answer.status == 200, await answer.text()
    return await answer.json()


async def dossier_status(client, orgs, code) -> str:
    return (await dossier_view(client, orgs, code))["status"]
