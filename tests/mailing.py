"""A gateway with its worker beside the VNPost simulator on a real port, and a dossier whose result is
mailed: shared by the postal flow tests and the page tests (registered in conftest as a plugin)."""

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from pydantic import SecretStr

from adapters.postal.simulator import SimulatorConfig, start_postal_simulator
from gateway.app import create_app
from gateway.store.embedded import free_port
from tests.samples import pdf, postal_dossier, sha256, upload_documents

SECRET = "callback-secret-for-tests-0123456789"
MAILED = postal_dossier(
    return_method={
        "type": "postal",
        "recipient_name": "Nguyễn Văn An",
        "phone": "0912345678",
        "address": {"unit_code": "00004", "address_line": "12 phố Đội Cấn"},
    }
)


async def simulator_control(url: str, scenario: str) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/_simulator/scenario", json={"scenario": scenario}) as answer:
            assert answer.status == 200, await answer.text()


@pytest.fixture
async def vnpost(settings) -> AsyncIterator[tuple[str, int]]:
    """The VNPost simulator calling back a gateway that will listen on `port`."""
    port = free_port()
    config = SimulatorConfig(
        username="motcua",
        password="mat-khau",
        customer_code="MOTCUA-HN",
        callback_url=f"http://127.0.0.1:{port}/v1/postal/callbacks",
        callback_secret=SECRET.encode(),
        tick_seconds=0.05,
    )
    runner, url = await start_postal_simulator(config)
    yield url, port
    await runner.cleanup()


def with_vnpost(settings, url: str, **changes):
    """The test settings pointed at the VNPost simulator at `url`, with a fast worker."""
    update = {
        "postal_url": url,
        "postal_customer_code": "MOTCUA-HN",
        "postal_username": "motcua",
        "postal_password": SecretStr("mat-khau"),
        "postal_callback_secret": SecretStr(SECRET),
        "worker_poll_seconds": 0.05,
    }
    return settings.model_copy(update=update | changes)


@pytest.fixture
async def gateway(aiohttp_client, settings, vnpost):
    url, port = vnpost
    configured = with_vnpost(settings, url)
    return await aiohttp_client(create_app(configured, with_worker=True), server_kwargs={"port": port})


async def mail_a_result(client, orgs, key="k", body=None) -> dict:
    """File a dossier to be returned by post, let the agency take it and report its result ready."""
    answer = await client.post(
        "/v1/dossiers", json=body or MAILED, headers={**orgs.postal.auth, "Idempotency-Key": key}
    )
    receipt = await answer.json()
    assert answer.status == 201, receipt
    await upload_documents(client, orgs.postal, receipt)
    code = receipt["code"]
    event = f"/v1/agency/dossiers/{code}/events"
    assert (await client.post(event, json={"type": "accepted"}, headers=orgs.agency.auth)).status == 201
    result = pdf("Phiếu lý lịch tư pháp gửi bưu điện")
    uploaded = await client.put(
        f"/v1/agency/dossiers/{code}/results/{sha256(result)}",
        data=result,
        params={"name": "Phiếu LLTP"},
        headers={**orgs.agency.auth, "Content-Type": "application/pdf"},
    )
    assert uploaded.status == 201, await uploaded.text()
    assert (await client.post(event, json={"type": "result_ready"}, headers=orgs.agency.auth)).status == 201
    return receipt


async def until(predicate, seconds: float = 15.0):
    async with asyncio.timeout(seconds):
        while not (result := await predicate()):  # noqa: ASYNC110 - the worker and VNPost move it
            await asyncio.sleep(0.05)
    return result


async def tracked_by_pin(client, receipt) -> dict:
    answer = await client.get(f"/v1/track/{receipt['code']}", headers={"X-Tracking-Pin": receipt["tracking_pin"]})
    return await answer.json()
