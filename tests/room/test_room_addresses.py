"""The addresses the banner and the projector show."""

from __future__ import annotations

import ipaddress

from sockscope.room.addresses import lan_addresses, shown_hosts


def test_a_server_on_every_address_shows_loopback_then_the_lan() -> None:
    shown = shown_hosts("0.0.0.0")
    assert shown[0] == "127.0.0.1" and shown[1:] == lan_addresses()
    for address in shown[1:]:
        ip = ipaddress.ip_address(address)
        assert not ip.is_loopback and not ip.is_link_local


def test_a_container_shows_no_address_of_its_own_network() -> None:
    assert shown_hosts("0.0.0.0", in_container=True) == ["127.0.0.1"]


def test_a_server_on_one_address_shows_that_one() -> None:
    assert shown_hosts("10.1.2.3") == ["10.1.2.3"]
