"""Resolve the real client IP of a request, believing forwarding headers only from trusted proxies.

Behind a reverse proxy the ASGI peer (``scope["client"][0]``) is the proxy, and the real client
sits in ``X-Forwarded-For`` or ``Forwarded`` (RFC 7239). Those headers are plain request text, so
anyone can send them; an audit trail that believed them blindly would record whatever address an
attacker chose. The rules, each of which is security-critical:

1. If the peer is ``None`` (unix socket) or not a trusted proxy, the headers are ignored entirely:
   a spoofed header from an untrusted client changes nothing. The peer is returned as its canonical
   address, or ``None`` if it is not an IP address: the server may have put text there (uvicorn's
   own proxy headers copy an ``X-Forwarded-For`` hop into ``scope["client"]`` as it is).
2. If the peer is trusted, the hop list is walked from right to left (each proxy appends the
   address it saw). Trusted hops are skipped; the first untrusted hop is the client. If every hop
   is trusted the leftmost is the client; with no header the peer is the client. Several header
   lines are joined in order into one list; a blank line holds no hop.
3. Hops are parsed strictly: ``1.2.3.4``, ``1.2.3.4:5678``, ``2001:db8::1``, ``[2001:db8::1]:443``
   (ports 0-65535 or RFC 7239 obfuscated ``_abc``; a hop over 100 characters is invalid). For
   ``Forwarded`` the ``for=`` value of each element is used, possibly quoted; elements without
   ``for=`` are skipped. IPv4-mapped IPv6 (``::ffff:10.0.0.1``) counts as its IPv4 form, for
   trust and output. Hops with an IPv6 scope id (``fe80::1%eth0``) are rejected, because
   :mod:`ipaddress` accepts arbitrary text after the ``%``.
4. A hop that is not an IP address (``unknown``, ``_hidden``, garbage, empty) ends the walk; the
   client is then the trusted hop (or peer) to its right, the last party we trust to have reported
   anything. Attacker text that is not an IP address is never returned.
5. Work is capped: only the rightmost 64 hops are considered, and the joined header is cut to its
   rightmost 8 KiB at a comma boundary, so no partial hop is ever parsed.
6. Results are canonical :mod:`ipaddress` strings (``str(ipaddress.ip_address(result)) ==
   result``: no brackets, port, zone id or leading zeros) or ``None``; never other text.

Elements are split on every comma and pairs on every semicolon, even inside quotes: genuine proxy
values never contain either, and quote-aware splitting would let an attacker's unbalanced quote
swallow the elements appended by the trusted proxies to its right.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from typing import TYPE_CHECKING, TypeAlias

from ..record.encoding import truncate

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

__all__ = ["REJECTED_CHARS", "TrustedProxies", "canonical_peer", "client_address"]

_IP: TypeAlias = "ipaddress.IPv4Address | ipaddress.IPv6Address"
_Network: TypeAlias = "ipaddress.IPv4Network | ipaddress.IPv6Network"

_HEADERS = ("x-forwarded-for", "forwarded")
_MAX_HOPS = 64
_MAX_HEADER_CHARS = 8 * 1024
_MAX_NODE_CHARS = 100  # "[v6]:port" needs at most 53; keeps attacker text out of the cache
_PORT_RE = re.compile(r"[0-9]{1,5}|_[A-Za-z0-9._-]+")  # numeric or RFC 7239 obfuscated port
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
#: The most characters of a rejected client address kept (see :func:`client_address`).
REJECTED_CHARS = 64


@functools.lru_cache(maxsize=1024)  # the same proxies and clients recur; parsing is slow
def _parse_ip(text: str, *, drop_scope: bool = False) -> _IP | None:
    """Parse a bare address (IPv4-mapped IPv6 becomes IPv4), or return ``None``.

    An IPv6 scope id is dropped with ``drop_scope`` (peers, supplied by the server) and makes the
    address invalid otherwise (header text, where the scope id would be free attacker text).
    """
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id is not None:
            if not drop_scope:
                return None
            ip = ipaddress.IPv6Address(int(ip))
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
    return ip


def _peer_ip(peer: str) -> _IP | None:
    """Parse a peer address given by the server (a zone id is dropped), or return ``None``."""
    return _parse_ip(peer, drop_scope=True) if len(peer) <= _MAX_NODE_CHARS else None


@functools.lru_cache(maxsize=1024)
def _canonical(peer: str) -> str | None:
    ip = _peer_ip(peer)
    return None if ip is None else str(ip)


def canonical_peer(peer: str | None) -> str | None:
    """The canonical address of a peer (``scope["client"][0]``), or ``None`` if it is none.

    ``2001:DB8::7`` becomes ``2001:db8::7``, ``::ffff:10.0.0.1`` becomes ``10.0.0.1`` and
    ``fe80::1%eth0`` becomes ``fe80::1``; ``testclient``, a unix socket path or any other text
    (which a server that rewrites the client from forwarding headers may put there) is ``None``.
    """
    if peer is None or len(peer) > _MAX_NODE_CHARS:
        return None
    return _canonical(peer)


def _is_port(text: str) -> bool:
    """Tell whether ``text`` is a port number up to 65535 or an RFC 7239 obfuscated port."""
    return _PORT_RE.fullmatch(text) is not None and (text[0] == "_" or int(text) <= 0xFFFF)


def _parse_node(node: str) -> _IP | None:
    """Parse a hop such as ``1.2.3.4``, ``1.2.3.4:80`` or ``[2001:db8::1]:443``, or return None."""
    node = node.strip()
    if len(node) > _MAX_NODE_CHARS:
        return None
    if node.startswith("["):
        host, sep, rest = node[1:].partition("]")
        if not sep or ":" not in host:  # unterminated, or an IPv4 address in brackets
            return None
        if rest and not (rest[0] == ":" and _is_port(rest[1:])):
            return None
        return _parse_ip(host)
    if node.count(":") == 1:  # IPv4 with a port; an IPv6 address has at least two colons
        host, _, port = node.partition(":")
        return _parse_ip(host) if _is_port(port) else None
    return _parse_ip(node)


def _forwarded_for(element: str) -> str | None:
    """Return the raw ``for=`` value of one RFC 7239 element, unquoted, or ``None`` if absent."""
    for pair in element.split(";"):
        name, sep, value = pair.partition("=")
        if sep and name.strip().lower() == "for":
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            return value
    return None


class TrustedProxies:
    """The proxies whose forwarding headers are believed, and the client IP resolver.

    Rules (see the module docstring for the reasons):

    1. A ``None`` or untrusted peer is returned canonical (or ``None``); the headers are ignored.
    2. Otherwise hops are walked right to left past trusted ones; the first untrusted hop is the
       client, else the leftmost hop, else (no header) the peer.
    3. Hops may carry valid ports and brackets; ``Forwarded`` uses each element's ``for=``;
       IPv4-mapped addresses count as IPv4; scoped IPv6 hops are invalid.
    4. An invalid hop ends the walk at the trusted hop (or peer) to its right.
    5. At most the rightmost 64 hops and the rightmost 8 KiB (cut at a comma) are read.
    6. Results are canonical IP strings or ``None``.

    ``"*"`` trusts every peer and hop. It is dangerous: only use it when nothing but your own
    proxy can reach the server's socket, otherwise every client picks its own IP. A ``None``
    peer (unix socket) still returns ``None``, and so does a peer that is no address when no
    hop names one.
    """

    __slots__ = ("_active", "_addresses", "_entries", "_header", "_trust_all", "_v4", "_v6")

    def __init__(self, proxies: Iterable[str] = (), *, header: str = "x-forwarded-for") -> None:
        """Validate and precompile the trusted proxies once.

        Args:
            proxies: IP addresses and CIDR networks (``"10.0.0.0/8"``, ``"::1"``), or ``"*"`` to
                trust every peer. A single string is read as a comma-separated list, in which
                blank items are ignored, so an empty environment variable trusts nobody.
            header: ``"x-forwarded-for"`` or ``"forwarded"`` (RFC 7239), case-insensitive.

        Raises:
            ValueError: If ``header`` is unsupported or an entry is not an address or network
                (including networks with host bits set, such as ``"10.0.0.1/8"``, and scoped
                IPv6 addresses); the message quotes the bad value.
        """
        name = header.strip().lower()
        if name not in _HEADERS:
            raise ValueError(f"Unsupported forwarding header: {header!r} (use one of {_HEADERS})")
        self._header = name
        if isinstance(proxies, str):
            proxies = [item for item in proxies.split(",") if item.strip()]
        self._trust_all = False
        addresses: set[_IP] = set()
        v4: list[ipaddress.IPv4Network] = []
        v6: list[ipaddress.IPv6Network] = []
        entries: list[str] = []
        for entry in proxies:
            text = entry.strip()
            entries.append(text)
            if text == "*":
                self._trust_all = True
                continue
            net = self._parse_entry(text)
            if net.num_addresses == 1:
                addresses.add(net.network_address)
            elif isinstance(net, ipaddress.IPv4Network):
                v4.append(net)
            else:
                v6.append(net)
        self._entries = tuple(entries)
        self._addresses = frozenset(addresses)
        self._v4 = tuple(v4)
        self._v6 = tuple(v6)
        self._active = self._trust_all or bool(addresses or v4 or v6)

    @staticmethod
    def _parse_entry(text: str) -> _Network:
        """Parse one stripped proxy entry into a network, IPv4-mapped ranges turned into IPv4."""
        try:
            if "%" in text:
                raise ValueError("scoped IPv6 addresses cannot be trusted")
            net = ipaddress.ip_network(text)
        except ValueError as exc:
            raise ValueError(f"Cannot parse trusted proxy: {text!r}") from exc
        if isinstance(net, ipaddress.IPv6Network) and net.subnet_of(_MAPPED):
            mapped = int(net.network_address) & 0xFFFFFFFF
            return ipaddress.IPv4Network((mapped, net.prefixlen - 96))
        return net

    def __bool__(self) -> bool:
        """Return ``False`` when no proxy is trusted, so headers can never change anything."""
        return self._active

    def __repr__(self) -> str:
        return f"TrustedProxies({list(self._entries)!r}, header={self._header!r})"

    def _trusts(self, ip: _IP | None) -> bool:
        if self._trust_all or ip in self._addresses:
            return True
        nets = self._v4 if isinstance(ip, ipaddress.IPv4Address) else self._v6
        return ip is not None and any(ip in net for net in nets)

    def is_trusted(self, host: str | None) -> bool:
        """Tell whether ``host`` is a trusted proxy.

        Args:
            host: An address as text, or ``None`` for a unix socket peer.

        Returns:
            ``True`` if the host is trusted. ``None`` never is; any other string is with ``"*"``.
        """
        if host is None or not self._active:
            return False
        return self._trusts(_peer_ip(host))

    def _hops(self, header_values: Sequence[str]) -> Iterator[str]:
        """Yield raw hops right to left from the rightmost 8 KiB of the joined header."""
        if isinstance(header_values, str):
            header_values = [header_values]
        parts: list[str] = []  # only the rightmost values that can reach the 8 KiB window
        size = 0
        for value in reversed(header_values):
            if value and not value.isspace():  # a blank line holds no hop
                parts.append(value)
                size += len(value) + 1
                if size > _MAX_HEADER_CHARS + 1:
                    break
        joined = ",".join(reversed(parts))
        if len(joined) > _MAX_HEADER_CHARS:
            at_boundary = joined[-_MAX_HEADER_CHARS - 1] == ","
            joined = joined[-_MAX_HEADER_CHARS:]
            if not at_boundary:
                joined = joined.partition(",")[2]  # drop the partial hop the cut went through
        if not joined:
            return
        for item in reversed(joined.split(",")):
            node = item if self._header == "x-forwarded-for" else _forwarded_for(item)
            if node is not None:  # a Forwarded element without for= is no hop
                yield node

    def client_ip(self, peer: str | None, header_values: Sequence[str]) -> str | None:
        """Resolve the client IP from the peer and the values of the configured header.

        Args:
            peer: The direct ASGI client host (``scope["client"][0]``), or ``None``.
            header_values: Every value of the configured header, in request order; several
                lines are joined as one comma-separated list.

        Returns:
            The canonical client IP, or ``None`` when there is none: no peer, or a peer that is
            not an address (and, with ``"*"``, no hop that is one).
        """
        if peer is None or not self._active:  # the hot path: nothing to believe
            return canonical_peer(peer)
        peer_ip = _peer_ip(peer)
        if not self._trusts(peer_ip):
            return None if peer_ip is None else str(peer_ip)
        client = None if peer_ip is None else str(peer_ip)  # non-IP peers only pass with "*"
        for count, node in enumerate(self._hops(header_values)):
            if count >= _MAX_HOPS:
                break
            ip = _parse_node(node)
            if ip is None:  # nobody trusted vouches for anything further left
                break
            client = str(ip)
            if not self._trusts(ip):
                break
        return client

    def client_ip_from_scope_headers(
        self, peer: str | None, headers: Iterable[tuple[bytes, bytes]]
    ) -> str | None:
        """Like :meth:`client_ip`, picking the configured header out of raw ASGI headers.

        Args:
            peer: The direct ASGI client host, or ``None``.
            headers: ``scope["headers"]``; names match case-insensitively, values are decoded
                as latin-1.

        Returns:
            The same as :meth:`client_ip`.
        """
        if not self.is_trusted(peer):  # also the hot path: skip scanning the headers
            return canonical_peer(peer)
        name = self._header.encode("ascii")
        values = [value.decode("latin-1") for key, value in headers if key.lower() == name]
        return self.client_ip(peer, values)


def client_address(
    proxies: TrustedProxies, peer: str | None, header_values: Sequence[str]
) -> tuple[str | None, str | None]:
    """The request's ``(ip_address, ip_address_rejected)``, as the middleware records them.

    ``ip_address`` is the canonical client IP (see :meth:`TrustedProxies.client_ip`), or
    ``None``. When it is ``None`` because the peer is text that is no address (a server that
    rewrites the client from forwarding headers, as uvicorn's proxy headers do, copies a hop
    there as it is), that text is the second item, cut to :data:`REJECTED_CHARS` characters
    and a ``…[truncated N chars]`` marker: worth a look in the record, never an address.
    """
    ip = proxies.client_ip(peer, header_values) if proxies else canonical_peer(peer)
    if ip is not None or not peer:
        return ip, None
    return ip, peer if len(peer) <= REJECTED_CHARS else truncate(peer, REJECTED_CHARS)
