"""Which addresses feeds may live at: the SSRF policy, decided without any connection."""

from __future__ import annotations

import pytest

from content.feeds.addresses import AddressGuard, AddressPolicy, AddressRefused, ResolutionFailed
from tests.content.feeds.servers import LOOPBACK_ONLY, FakeResolver


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private network"),
        ("172.16.0.1", "private network"),
        ("192.168.178.1", "private network"),
        ("fd00::1", "private network"),
        ("169.254.169.254", "cloud metadata service"),
        ("fd00:ec2::254", "cloud metadata service"),
        ("100.100.100.200", "cloud metadata service"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "not globally routable"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "cloud metadata service"),
        ("2002:7f00:1::", "loopback"),
    ],
)
def test_internal_addresses_are_refused_with_a_reason(address: str, reason: str):
    assert AddressPolicy().refusal(address) == reason


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])
def test_public_addresses_pass(address: str):
    assert AddressPolicy().refusal(address) is None


def test_allowed_networks_open_exactly_those_addresses():
    policy = AddressPolicy.allowing(LOOPBACK_ONLY)

    assert policy.refusal("127.0.0.1") is None
    assert policy.refusal("127.0.0.2") == "loopback"
    assert policy.refusal("::1") == "loopback"
    assert policy.refusal("10.0.0.1") == "private network"


def test_a_host_with_any_internal_address_is_refused_whole():
    resolver = FakeResolver({"gemischt.example": [["93.184.215.14", "10.0.0.7"]]})
    guard = AddressGuard(AddressPolicy(), resolver)

    with pytest.raises(AddressRefused, match=r"gemischt\.example resolves to 10\.0\.0\.7"):
        guard.resolve("gemischt.example", 443)


def test_refusal_says_how_to_allow_the_network():
    guard = AddressGuard(AddressPolicy(), FakeResolver({"intern.example": [["192.168.0.5"]]}))

    with pytest.raises(AddressRefused) as caught:
        guard.resolve("intern.example", 80)

    assert "private network" in str(caught.value)
    assert "[fetch] allow_networks" in str(caught.value)


def test_unresolvable_host_fails_naming_it():
    guard = AddressGuard(AddressPolicy(), FakeResolver({}))

    with pytest.raises(ResolutionFailed, match=r"nirgends\.example"):
        guard.resolve("nirgends.example", 80)
