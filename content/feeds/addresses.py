"""Which addresses a feed may live at: the guard against server-side request forgery.

A feed URL is typed by a person but its host name is answered by someone else's DNS, so a feed
(or any redirect hop) could point Depesche at the database next door, the cloud's metadata
service or a router's admin page. Every address a host resolves to is checked here before a
connection is made, and the connection then goes to exactly the address that was checked
(see :mod:`content.feeds.connection`), so DNS rebinding cannot swap it afterwards.

Only globally routable unicast addresses pass, unless the workspace allows a network in
``[fetch] allow_networks``. This module decides; it opens no connection.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Host name and port in, addresses out (as strings): ``socket.getaddrinfo`` by default, a fake
# in tests to play a DNS server that changes its answer.
Resolver = Callable[[str, int], Sequence[str]]

# Metadata services answer on addresses that the generic rules below do not all catch
# (100.100.100.200 lies in the carrier-grade NAT range, which Python counts as neither private
# nor global); naming them keeps the refusal message clear.
CLOUD_METADATA = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle
        "169.254.170.2",  # AWS ECS task metadata
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud (classic)
        "fd00:ec2::254",  # AWS over IPv6
    )
)


class AddressRefused(Exception):
    """A host resolved to an address feeds may not live at; the message says which and why."""

    def __init__(self, host: str, address: str, reason: str) -> None:
        where = f"{host} is" if host == address else f"{host} resolves to"
        super().__init__(
            f"{where} {address} ({reason}); allow the network in "
            "[fetch] allow_networks of depesche.toml if that is intended"
        )
        self.host, self.address, self.reason = host, address, reason


class ResolutionFailed(Exception):
    """A host name could not be resolved at all."""


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host``, in its order, without repeats."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ResolutionFailed(f"cannot resolve {host}: {exc}") from exc
    addresses: list[str] = []
    for *_, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def forbidden_reason(address: IPAddress) -> str | None:
    """Why ``address`` is no place for a public feed, or None when it is globally routable."""
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or address.sixtofour
        if mapped is not None:
            return forbidden_reason(mapped)
    if address in CLOUD_METADATA:
        return "cloud metadata service"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_unspecified:
        return "unspecified"
    if address.is_reserved:
        return "reserved"
    if address.is_private:
        return "private network"
    if not address.is_global:
        return "not globally routable"
    return None


@dataclass(frozen=True)
class AddressPolicy:
    """Globally routable addresses, plus the networks the workspace explicitly allows."""

    allowed: tuple[IPNetwork, ...] = ()

    @classmethod
    def allowing(cls, networks: Iterable[str]) -> AddressPolicy:
        return cls(tuple(ipaddress.ip_network(network, strict=True) for network in networks))

    def refusal(self, address: str) -> str | None:
        """The reason ``address`` is refused, or None when a connection may go there."""
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone index
        except ValueError:
            return "not an IP address"
        if any(ip.version == network.version and ip in network for network in self.allowed):
            return None
        return forbidden_reason(ip)


@dataclass(frozen=True)
class AddressGuard:
    """Resolves a host and hands out only addresses the policy allows."""

    policy: AddressPolicy
    resolver: Resolver = system_resolver

    def resolve(self, host: str, port: int) -> list[str]:
        """The addresses to connect to, in the resolver's order.

        A host with any forbidden address is refused as a whole: one name that answers both a
        public and an internal address is either misconfigured or probing, and trying only its
        public half would make the outcome depend on the order of the answer.
        """
        bare = host.strip("[]")
        addresses = list(self.resolver(bare, port))
        if not addresses:
            raise ResolutionFailed(f"cannot resolve {bare}: no addresses")
        for address in addresses:
            reason = self.policy.refusal(address)
            if reason is not None:
                raise AddressRefused(bare, address, reason)
        return addresses
