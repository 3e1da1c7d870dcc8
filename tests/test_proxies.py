"""The client's address behind our reverse proxies (gateway/proxies.py, MOTCUA_TRUSTED_PROXIES): X-Forwarded-For
is believed only from a listed proxy, read from the right, so per-address limits count citizens, not the
load balancer, and a client cannot forge its way around them."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from gateway.app import create_app
from gateway.proxies import client_address, parse_networks
from gateway.settings import Settings
from tests.samples import file_dossier, postal_dossier

OURS = parse_networks(["10.0.0.0/8", "127.0.0.1", "::1"])


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),  # not a proxy of ours: the header is ignored
        ("10.0.0.5", ["198.51.100.1"], "198.51.100.1"),
        ("10.0.0.5", ["6.6.6.6, 198.51.100.1, 10.0.0.7"], "198.51.100.1"),  # forged left part skipped
        ("10.0.0.5", ["6.6.6.6", "198.51.100.1"], "198.51.100.1"),  # several headers: one list
        ("10.0.0.5", [], "10.0.0.5"),
        ("10.0.0.5", ["10.0.0.6, 10.0.0.7"], "10.0.0.5"),  # only our own hops
        ("10.0.0.5", ["not-an-address, 198.51.100.1"], "198.51.100.1"),
        ("10.0.0.5", ["198.51.100.1, garbage"], "10.0.0.5"),  # the hop our proxy wrote is garbled
        ("10.0.0.5", ["198.51.100.1:4711"], "198.51.100.1"),
        ("::1", ["[2001:db8::1]:443"], "2001:db8::1"),
        (None, ["198.51.100.1"], None),
    ],
)
def test_the_client_is_the_right_most_hop_that_is_not_ours(remote, forwarded, expected):
    assert client_address(remote, forwarded, OURS) == expected


@given(st.lists(st.text(max_size=40), max_size=5))
def test_any_header_from_an_outsider_changes_nothing(headers):
    assert client_address("203.0.113.9", headers, OURS) == "203.0.113.9"


def test_a_malformed_proxy_entry_is_refused_at_start_up():
    with pytest.raises(ValidationError, match="trusted_proxies"):
        Settings(trusted_proxies=["10.0.0.0/33"])


async def _lock_out_address(client, forwarded: str) -> None:
    """Enough wrong PINs on unknown codes, from one forwarded address, to pass the per-address limit."""
    for i in range(10):
        headers = {"X-Tracking-Pin": "000000", "X-Forwarded-For": forwarded}
        answer = await client.get(f"/v1/track/000.00.10.H26-000101-{i:04d}", headers=headers)
        assert answer.status == 404


async def test_behind_a_trusted_proxy_one_clients_wrong_pins_do_not_lock_out_another(aiohttp_client, settings, orgs):
    proxied = settings.model_copy(update={"tracking_max_failures": 1, "trusted_proxies": ["127.0.0.1"]})
    client = await aiohttp_client(create_app(proxied))
    receipt = await file_dossier(client, orgs.postal, postal_dossier(), "proxy-1")
    await _lock_out_address(client, "198.51.100.1")
    track = f"/v1/track/{receipt['code']}"
    pin = {"X-Tracking-Pin": receipt["tracking_pin"]}
    assert (await client.get(track, headers={**pin, "X-Forwarded-For": "198.51.100.1"})).status == 429
    assert (await client.get(track, headers={**pin, "X-Forwarded-For": "198.51.100.2"})).status == 200


async def test_without_trusted_proxies_a_forged_header_does_not_escape_the_limit(aiohttp_client, settings, orgs):
    strict = settings.model_copy(update={"tracking_max_failures": 1})
    client = await aiohttp_client(create_app(strict))
    receipt = await file_dossier(client, orgs.postal, postal_dossier(), "proxy-2")
    await _lock_out_address(client, "198.51.100.1")
    pin = {"X-Tracking-Pin": receipt["tracking_pin"], "X-Forwarded-For": "198.51.100.2"}
    assert (await client.get(f"/v1/track/{receipt['code']}", headers=pin)).status == 429
