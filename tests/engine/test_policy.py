"""What a lab may bind and connect to (pure)."""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import ip_network

import pytest

from sockscope.engine.core.errors import ForbiddenError, InvalidCommand
from sockscope.engine.core.policy import LabPolicy

POLICY = LabPolicy(port_min=40000, port_max=40199)
OPEN = LabPolicy(port_min=40000, port_max=40199, allow_connect=(ip_network("0.0.0.0/0"),))


def refused(check: Callable[[str, int], None], host: str, port: int) -> ForbiddenError:
    with pytest.raises(ForbiddenError) as caught:
        check(host, port)
    assert caught.value.status == 403
    assert caught.value.field == "address"
    return caught.value


@pytest.mark.parametrize(
    ("host", "port"),
    [("127.0.0.1", 40000), ("127.0.0.1", 40199), ("0.0.0.0", 40100), ("", 40100), ("::1", 0)],
)
def test_bind_in_the_lab_range(host: str, port: int) -> None:
    POLICY.check_bind(host, port)


def test_bind_to_port_0_picks_from_the_range() -> None:
    POLICY.check_bind("127.0.0.1", 0)


@pytest.mark.parametrize("port", [1, 22, 8000, 39999, 40200, 65535])
def test_bind_outside_the_range_is_forbidden(port: int) -> None:
    error = refused(POLICY.check_bind, "127.0.0.1", port)
    assert "40000-40199" in error.message
    assert str(port) in error.message


def test_bind_range_follows_the_policy() -> None:
    narrow = LabPolicy(port_min=50000, port_max=50009)
    narrow.check_bind("127.0.0.1", 50009)
    assert "50000-50009" in refused(narrow.check_bind, "127.0.0.1", 40000).message


@pytest.mark.parametrize("host", ["169.254.169.254", "fe80::1"])
def test_bind_to_a_link_local_address_is_forbidden(host: str) -> None:
    assert host in refused(POLICY.check_bind, host, 40000).message


def malformed(check: Callable[[str, int], None], host: str, port: int) -> InvalidCommand:
    """A host that is not an IP address is a malformed command (400), not a forbidden one."""
    with pytest.raises(InvalidCommand) as caught:
        check(host, port)
    assert caught.value.status == 400
    assert caught.value.field == "address"
    return caught.value


def test_bind_to_a_name_is_refused() -> None:
    assert "not an IP address" in malformed(POLICY.check_bind, "localhost", 40000).message


@pytest.mark.parametrize("port", [40000, 40123, 40199])
def test_connect_to_loopback_in_range(port: int) -> None:
    POLICY.check_connect("127.0.0.1", port)
    POLICY.check_connect("127.1.2.3", port)
    POLICY.check_connect("::1", port)  # IPv6's loopback
    POLICY.check_connect("::ffff:127.0.0.1", port)  # 127.0.0.1 as an IPv6 socket writes it


@pytest.mark.parametrize(
    ("host", "port"),
    [
        ("127.0.0.1", 22),
        ("127.0.0.1", 40200),
        ("::1", 22),
        ("::2", 40000),
        ("::ffff:10.0.0.1", 40000),
    ],
)
def test_connect_to_loopback_out_of_range_is_forbidden(host: str, port: int) -> None:
    error = refused(POLICY.check_connect, host, port)
    assert f"{host}:{port}" in error.message
    assert "40000-40199" in error.message


@pytest.mark.parametrize("policy", [POLICY, OPEN], ids=["default", "allow-all"])
@pytest.mark.parametrize(
    "host", ["169.254.169.254", "169.254.0.1", "fe80::1", "fd00:ec2::254", "100.100.100.200"]
)
def test_metadata_and_link_local_are_never_allowed(policy: LabPolicy, host: str) -> None:
    error = refused(policy.check_connect, host, 80)
    assert host in error.message
    assert "never" in error.message


def test_an_allowlist_opens_the_networks_it_names() -> None:
    with_ten = LabPolicy(allow_connect=(ip_network("10.0.0.0/8"),))
    with_other = LabPolicy(allow_connect=(ip_network("192.168.0.0/16"),))
    with_ten.check_connect("10.1.2.3", 80)
    OPEN.check_connect("10.1.2.3", 80)
    assert "--allow-connect" in refused(POLICY.check_connect, "10.1.2.3", 80).message
    refused(with_other.check_connect, "10.1.2.3", 80)
    refused(with_ten.check_connect, "11.1.2.3", 80)


@pytest.mark.parametrize("host", ["localhost", "example.com", "127.0.0.1:40000", ""])
def test_a_name_is_refused_readably(host: str) -> None:
    error = malformed(POLICY.check_connect, host, 40000)
    assert repr(host) in error.message
    assert "not an IP address" in error.message


@pytest.mark.parametrize("policy", [POLICY, OPEN], ids=["default", "allow-all"])
@pytest.mark.parametrize("host", ["0.0.0.0", "::", "224.0.0.1"])
def test_unspecified_and_multicast_are_not_targets(policy: LabPolicy, host: str) -> None:
    error = refused(policy.check_connect, host, 40000)
    assert "not an address a client can connect to" in error.message


def test_an_ipv4_mapped_address_is_held_to_the_ipv4_rules() -> None:
    """::ffff:a.b.c.d is a.b.c.d: the metadata address stays out even with every IPv6
    address allowed, and an IPv4 allowlist opens its mapped form too."""
    all_v6 = LabPolicy(port_min=40000, port_max=40199, allow_connect=(ip_network("::/0"),))
    assert "never allowed" in refused(all_v6.check_connect, "::ffff:169.254.169.254", 80).message
    refused(POLICY.check_connect, "::ffff:10.0.0.1", 40000)
    OPEN.check_connect("::ffff:10.0.0.1", 40000)
    refused(POLICY.check_connect, "::127.0.0.1", 40000)  # IPv4-compatible: not loopback


def test_a_datagram_is_answered_on_this_machine_only_unless_allowed() -> None:
    POLICY.check_reply("127.0.0.1", 51234)  # a local client's own ephemeral port
    POLICY.check_reply("::1", 51234)
    refused(POLICY.check_reply, "192.168.1.20", 40000)  # someone on the LAN
    OPEN.check_reply("192.168.1.20", 5353)
