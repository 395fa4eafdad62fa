"""Tests for client IP resolution behind trusted proxies (asgi_audit.web.proxies)."""

from __future__ import annotations

import ipaddress
import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from asgi_audit.web.proxies import TrustedProxies, canonical_peer

XFF = "x-forwarded-for"
FWD = "forwarded"
TRUSTED = ["10.0.0.0/8", "127.0.0.1", "::1", "fd00::/8"]


def canonical(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """The form the resolver returns: compressed, with IPv4-mapped IPv6 shown as IPv4."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


@pytest.mark.parametrize(
    ("trusted", "kind", "peer", "values", "expected"),
    [
        pytest.param([], XFF, "203.0.113.7", ["1.2.3.4"], "203.0.113.7", id="no-proxies-spoof"),
        pytest.param("", XFF, "203.0.113.7", ["1.2.3.4"], "203.0.113.7", id="empty-string-cfg"),
        pytest.param(TRUSTED, XFF, "203.0.113.7", ["1.2.3.4"], "203.0.113.7", id="untrusted-peer"),
        pytest.param(TRUSTED, XFF, None, ["1.2.3.4"], None, id="unix-socket-peer"),
        pytest.param(TRUSTED, XFF, "2001:DB8::7", ["1.2.3.4"], "2001:db8::7", id="peer-canonical"),
        pytest.param(TRUSTED, XFF, "::ffff:203.0.113.7", [], "203.0.113.7", id="peer-v4-mapped"),
        pytest.param([], XFF, "fe80::1%eth0", [], "fe80::1", id="peer-zone-id-dropped"),
        pytest.param([], XFF, "testclient", ["1.2.3.4"], None, id="no-proxies-non-ip-peer"),
        pytest.param(TRUSTED, XFF, "x" * 4096, ["1.2.3.4"], None, id="untrusted-garbage-peer"),
        pytest.param(TRUSTED, XFF, "[::1]:80", [], None, id="peer-with-brackets-and-port"),
        pytest.param(TRUSTED, XFF, "10.0.0.1", [], "10.0.0.1", id="trusted-peer-no-header"),
        pytest.param(TRUSTED, XFF, "0:0::1", [], "::1", id="trusted-peer-canonicalised"),
        pytest.param(TRUSTED, XFF, "10.0.0.1", ["198.51.100.4"], "198.51.100.4", id="one-hop"),
        pytest.param(
            TRUSTED,
            XFF,
            "10.0.0.1",
            ["198.51.100.4, 10.0.0.2, 10.9.9.9"],
            "198.51.100.4",
            id="chain-of-trusted-hops",
        ),
        pytest.param(
            TRUSTED,
            XFF,
            "10.0.0.1",
            ["6.6.6.6, 198.51.100.4, 10.0.0.2"],
            "198.51.100.4",
            id="spoofed-hops-left-of-client",
        ),
        pytest.param(
            TRUSTED,
            XFF,
            "10.0.0.1",
            ["198.51.100.4, 203.0.113.9, 10.0.0.2"],
            "203.0.113.9",
            id="untrusted-hop-in-middle",
        ),
        pytest.param(
            TRUSTED,
            XFF,
            "10.0.0.1",
            ["10.1.1.1, 127.0.0.1, 10.0.0.2"],
            "10.1.1.1",
            id="all-trusted-leftmost",
        ),
        pytest.param(TRUSTED, XFF, "10.0.0.1", ["198.51.100.4:5678"], "198.51.100.4", id="v4-port"),
        pytest.param(
            TRUSTED,
            XFF,
            "10.0.0.1",
            ["[2001:db8::1]:443, 10.0.0.2"],
            "2001:db8::1",
            id="v6-brackets-port",
        ),
        pytest.param(TRUSTED, XFF, "10.0.0.1", ["[2001:db8::1]"], "2001:db8::1", id="v6-brackets"),
        pytest.param(TRUSTED, XFF, "::1", ["2001:DB8:0:0::1"], "2001:db8::1", id="v6-canonical"),
        pytest.param(
            TRUSTED, XFF, "fd00::1", ["2001:db8::9, fd12::3"], "2001:db8::9", id="v6-cidr-chain"
        ),
        pytest.param(
            TRUSTED,
            XFF,
            "::ffff:127.0.0.1",
            ["198.51.100.4"],
            "198.51.100.4",
            id="v4-mapped-peer-trusted",
        ),
        pytest.param(
            TRUSTED,
            XFF,
            "10.0.0.1",
            ["198.51.100.4, ::ffff:10.0.0.2"],
            "198.51.100.4",
            id="v4-mapped-hop-trusted",
        ),
        pytest.param(
            TRUSTED,
            XFF,
            "10.0.0.1",
            ["::ffff:198.51.100.4"],
            "198.51.100.4",
            id="v4-mapped-client-unmapped",
        ),
        pytest.param(
            ["::ffff:10.0.0.0/104"],
            XFF,
            "10.0.0.1",
            ["198.51.100.4"],
            "198.51.100.4",
            id="v4-mapped-network-config",
        ),
        pytest.param(
            TRUSTED,
            XFF,
            "10.0.0.1",
            ["6.6.6.6", "198.51.100.4, 10.0.0.2"],
            "198.51.100.4",
            id="multiple-header-lines",
        ),
        pytest.param(
            TRUSTED,
            XFF,
            "10.0.0.1",
            ["198.51.100.4", "10.0.0.2", "10.0.0.3"],
            "198.51.100.4",
            id="multiple-header-lines-in-order",
        ),
        pytest.param(
            TRUSTED,
            XFF,
            "10.0.0.1",
            ["198.51.100.4, 10.0.0.2", " "],
            "198.51.100.4",
            id="blank-header-line-holds-no-hop",
        ),
        pytest.param(
            TRUSTED,
            XFF,
            "10.0.0.1",
            [" 198.51.100.4 ,\t10.0.0.2 "],
            "198.51.100.4",
            id="whitespace",
        ),
        pytest.param(
            TRUSTED,
            XFF,
            "10.0.0.1",
            ["198.51.100.4, not-an-ip, 10.0.0.2"],
            "10.0.0.2",
            id="garbage-hop-stops-walk",
        ),
        pytest.param(TRUSTED, XFF, "10.0.0.1", ["<script>"], "10.0.0.1", id="garbage-only"),
        pytest.param(
            TRUSTED, XFF, "10.0.0.1", ["198.51.100.4,,10.0.0.2"], "10.0.0.2", id="empty-hop"
        ),
        pytest.param(TRUSTED, XFF, "10.0.0.1", ["unknown"], "10.0.0.1", id="xff-unknown"),
        pytest.param(TRUSTED, XFF, "10.0.0.1", ["010.0.0.9"], "10.0.0.1", id="leading-zeros"),
        pytest.param(
            TRUSTED, XFF, "10.0.0.1", ["fe80::1%eth0"], "10.0.0.1", id="scoped-v6-hop-rejected"
        ),
        pytest.param(
            TRUSTED, XFF, "10.0.0.1", ["[198.51.100.4]:80"], "10.0.0.1", id="v4-in-brackets"
        ),
        pytest.param(TRUSTED, XFF, "10.0.0.1", ["198.51.100.4:http"], "10.0.0.1", id="bad-port"),
        pytest.param(
            TRUSTED, XFF, "10.0.0.1", ["198.51.100.4:65536"], "10.0.0.1", id="port-too-big"
        ),
        pytest.param(
            TRUSTED, XFF, "10.0.0.1", ["[2001:db8::1]:99999"], "10.0.0.1", id="v6-port-too-big"
        ),
        pytest.param(
            TRUSTED, XFF, "10.0.0.1", ["for=198.51.100.4"], "10.0.0.1", id="xff-ignores-fwd-syntax"
        ),
        pytest.param(
            TRUSTED,
            FWD,
            "10.0.0.1",
            ["for=198.51.100.4;proto=https"],
            "198.51.100.4",
            id="fwd-simple",
        ),
        pytest.param(
            TRUSTED,
            FWD,
            "10.0.0.1",
            ['for="[2001:db8:cafe::17]:4711"'],
            "2001:db8:cafe::17",
            id="fwd-quoted-v6-port",
        ),
        pytest.param(
            TRUSTED,
            FWD,
            "10.0.0.1",
            ["for=198.51.100.4, for=10.0.0.2;by=10.0.0.1"],
            "198.51.100.4",
            id="fwd-several-elements",
        ),
        pytest.param(
            TRUSTED,
            FWD,
            "10.0.0.1",
            ["for=6.6.6.6", "for=198.51.100.4", 'For="10.0.0.2"'],
            "198.51.100.4",
            id="fwd-lines-and-case-insensitive-name",
        ),
        pytest.param(
            TRUSTED,
            FWD,
            "10.0.0.1",
            ["for=198.51.100.4, for=unknown"],
            "10.0.0.1",
            id="fwd-unknown-stops-walk",
        ),
        pytest.param(
            TRUSTED,
            FWD,
            "10.0.0.1",
            ["for=_hidden, for=10.0.0.2"],
            "10.0.0.2",
            id="fwd-obfuscated-stops-walk",
        ),
        pytest.param(
            TRUSTED,
            FWD,
            "10.0.0.1",
            ["for=198.51.100.4, proto=https;by=10.0.0.9"],
            "198.51.100.4",
            id="fwd-element-without-for-skipped",
        ),
        pytest.param(
            TRUSTED,
            FWD,
            "10.0.0.1",
            ['for="198.51.100.4:_p1"'],
            "198.51.100.4",
            id="fwd-obfuscated-port",
        ),
        pytest.param(
            TRUSTED, FWD, "10.0.0.1", ["198.51.100.4"], "10.0.0.1", id="fwd-ignores-xff-syntax"
        ),
        pytest.param(
            TRUSTED,
            FWD,
            "10.0.0.1",
            ['for="6.6.6.6, for=198.51.100.4'],
            "198.51.100.4",
            id="fwd-unbalanced-quote-does-not-swallow",
        ),
        pytest.param(["*"], XFF, "203.0.113.50", ["198.51.100.4"], "198.51.100.4", id="star"),
        pytest.param("*", XFF, "203.0.113.50", ["1.1.1.1, 2.2.2.2"], "1.1.1.1", id="star-leftmost"),
        pytest.param("*", XFF, "testclient", [], None, id="star-non-ip-peer"),
        pytest.param("*", XFF, "testclient", ["198.51.100.4"], "198.51.100.4", id="star-ip-hop"),
        pytest.param("*", XFF, "testclient", ["junk"], None, id="star-non-ip-peer-junk-hop"),
        pytest.param("*", XFF, None, ["1.1.1.1"], None, id="star-unix-socket-peer"),
        pytest.param(
            ["192.168.0.0/16"],
            XFF,
            "192.168.255.255",
            ["198.51.100.4"],
            "198.51.100.4",
            id="cidr-last-address-trusted",
        ),
        pytest.param(
            ["192.168.0.0/16"],
            XFF,
            "192.169.0.1",
            ["198.51.100.4"],
            "192.169.0.1",
            id="cidr-just-outside-untrusted",
        ),
        pytest.param(
            "127.0.0.1, 10.0.0.0/8",
            XFF,
            "127.0.0.1",
            ["198.51.100.4, 10.2.3.4"],
            "198.51.100.4",
            id="comma-string-config",
        ),
    ],
)
def test_client_ip_resolves_each_scenario(
    trusted: str | list[str], kind: str, peer: str | None, values: list[str], expected: str | None
) -> None:
    assert TrustedProxies(trusted, header=kind).client_ip(peer, values) == expected


def test_spoofed_xff_from_untrusted_peer_is_ignored() -> None:
    proxies = TrustedProxies(["10.0.0.1"])
    assert proxies.client_ip("203.0.113.7", ["10.0.0.1, 127.0.0.1"]) == "203.0.113.7"


@pytest.mark.parametrize(
    ("proxies", "bad"),
    [
        (["10.0.0.300"], "10.0.0.300"),
        (["10.0.0.0/33"], "10.0.0.0/33"),
        (["10.0.0.1/8"], "10.0.0.1/8"),
        (["localhost"], "localhost"),
        (["127.0.0.1", "not-an-ip"], "not-an-ip"),
        ([""], ""),
        (["fe80::1%eth0"], "fe80::1%eth0"),
        (["2001:db8::/129"], "2001:db8::/129"),
        ("127.0.0.1, 10.0.0.300", "10.0.0.300"),
        (["127.0.0.1, 10.0.0.0/8"], "127.0.0.1, 10.0.0.0/8"),
    ],
)
def test_invalid_trusted_proxy_raises_value_error_quoting_it(
    proxies: str | list[str], bad: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(f"Cannot parse trusted proxy: {bad!r}")):
        TrustedProxies(proxies)


@pytest.mark.parametrize("header", ["x-real-ip", "", "forwarded-for"])
def test_unsupported_header_raises_value_error_quoting_it(header: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(header))):
        TrustedProxies(["10.0.0.1"], header=header)


def test_header_name_is_case_insensitive() -> None:
    proxies = TrustedProxies(["10.0.0.1"], header="Forwarded")
    assert proxies.client_ip("10.0.0.1", ["for=198.51.100.4"]) == "198.51.100.4"


@pytest.mark.parametrize(
    ("proxies", "expected"),
    [([], False), ("", False), (" , ", False), (["*"], True), ("10.0.0.1", True)],
)
def test_bool_is_false_only_when_nothing_is_trusted(
    proxies: str | list[str], expected: bool
) -> None:
    assert bool(TrustedProxies(proxies)) is expected


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("10.1.2.3", True),
        ("11.0.0.1", False),
        ("::1", True),
        ("::2", False),
        ("fd12::1", True),
        ("::ffff:10.0.0.1", True),
        ("fe80::1%eth0", False),
        ("not-an-ip", False),
        (None, False),
    ],
)
def test_is_trusted_checks_addresses_and_networks(host: str | None, expected: bool) -> None:
    assert TrustedProxies(TRUSTED).is_trusted(host) is expected


def test_trust_all_trusts_any_host_but_not_a_missing_peer() -> None:
    proxies = TrustedProxies("*")
    assert proxies.is_trusted("203.0.113.9")
    assert proxies.is_trusted("testclient")
    assert not proxies.is_trusted(None)


def test_scoped_trusted_peer_is_matched_without_its_scope() -> None:
    proxies = TrustedProxies(["fe80::/10"])
    assert proxies.client_ip("fe80::1%eth0", ["198.51.100.4"]) == "198.51.100.4"


def test_only_the_rightmost_64_hops_are_considered() -> None:
    proxies = TrustedProxies(["10.0.0.0/8"])
    trusted_hops = [f"10.0.{i // 256}.{i % 256}" for i in range(70)]
    fits = ", ".join(["198.51.100.4", *trusted_hops[-63:]])
    too_far = ", ".join(["198.51.100.4", *trusted_hops[-64:]])
    assert proxies.client_ip("10.0.0.1", [fits]) == "198.51.100.4"
    assert proxies.client_ip("10.0.0.1", [too_far]) == trusted_hops[-64]


def test_oversized_header_is_cut_at_a_comma_so_no_partial_hop_is_parsed() -> None:
    limit = 8 * 1024
    proxies = TrustedProxies(["11.1.1.1"])
    hop = "11.1.1.1" + " " * 200  # padded so fewer than 64 hops fit in the window
    joined = ",".join([hop] * 50)
    value = joined + " " * ((1 - (len(joined) - limit)) % (len(hop) + 1))
    # The window starts one character into a hop, leaving "1.1.1.1", a valid untrusted IP.
    assert value[-limit - 1 :].startswith("11.1.1.1")
    assert value[-limit:].startswith("1.1.1.1")
    assert proxies.client_ip("11.1.1.1", [value]) == "11.1.1.1"


def test_oversized_header_keeps_only_its_rightmost_8_kib() -> None:
    proxies = TrustedProxies(["10.0.0.0/8"])
    padding = "10.0.0.2" + " " * 300
    value = ", ".join(["198.51.100.4", *[padding] * 30, "10.0.0.3"])
    assert len(value) > 8 * 1024
    assert proxies.client_ip("10.0.0.1", [value]) == "10.0.0.2"


def test_single_hop_larger_than_the_limit_yields_the_peer() -> None:
    proxies = TrustedProxies(["10.0.0.1"])
    assert proxies.client_ip("10.0.0.1", ["1" * 10_000]) == "10.0.0.1"


def test_overlong_hop_is_invalid_even_if_it_parses_as_an_address() -> None:
    proxies = TrustedProxies(["10.0.0.1"])
    padded = "198.51.100.4:_" + "p" * 100  # a valid obfuscated port, but far too long
    assert proxies.client_ip("10.0.0.1", [padded]) == "10.0.0.1"
    assert proxies.client_ip("10.0.0.1", [padded[:60]]) == "198.51.100.4"


def test_a_plain_string_header_value_is_one_value() -> None:
    proxies = TrustedProxies(["10.0.0.0/8"])
    assert proxies.client_ip("10.0.0.1", "198.51.100.4, 10.0.0.2") == "198.51.100.4"


def test_scope_headers_pick_the_configured_header_case_insensitively_in_order() -> None:
    proxies = TrustedProxies(["10.0.0.0/8"])
    headers = [
        (b"X-Forwarded-For", b"6.6.6.6"),
        (b"host", b"example.com"),
        (b"forwarded", b"for=192.0.2.1"),
        (b"x-forwarded-for", b"198.51.100.4, 10.0.0.2"),
    ]
    assert proxies.client_ip_from_scope_headers("10.0.0.1", headers) == "198.51.100.4"
    assert proxies.client_ip_from_scope_headers("203.0.113.7", headers) == "203.0.113.7"
    forwarded = TrustedProxies(["10.0.0.0/8"], header="forwarded")
    assert forwarded.client_ip_from_scope_headers("10.0.0.1", headers) == "192.0.2.1"


def test_scope_headers_decode_latin1_and_reject_non_ip_bytes() -> None:
    proxies = TrustedProxies(["10.0.0.1"])
    headers = [(b"x-forwarded-for", b"\xff\xfe, 10.0.0.1")]
    assert proxies.client_ip_from_scope_headers("10.0.0.1", headers) == "10.0.0.1"


def test_repr_shows_configuration() -> None:
    proxies = TrustedProxies("10.0.0.0/8, ::1", header="forwarded")
    assert repr(proxies) == "TrustedProxies(['10.0.0.0/8', '::1'], header='forwarded')"


# --- properties -------------------------------------------------------------------------------

PROXIES = TrustedProxies(TRUSTED)
PROXIES_FWD = TrustedProxies(TRUSTED, header=FWD)
latin1_text = st.text(alphabet=st.characters(max_codepoint=255))
any_ip = st.ip_addresses()
trusted_ip = st.one_of(
    st.ip_addresses(network="10.0.0.0/8"),
    st.ip_addresses(network="fd00::/8"),
    st.sampled_from([ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")]),
)
untrusted_ip = any_ip.filter(lambda ip: not PROXIES.is_trusted(str(ip)))
# Near misses that must never be mistaken for an address (none can parse as one).
not_an_ip = st.one_of(
    st.sampled_from(
        [
            "",
            "unknown",
            "_hidden",
            "[::1",
            "[1.2.3.4]",
            "1.2.3",
            "1.2.3.4:99999",
            "1.2.3.4:",
            "::ffff:999.1.1.1",
            "fe80::1%eth0",
            "fe80::1%<x>",
            "1.2.3.4 5",
            "[::1]x",
            "0x7f.1",
        ]
    ),
    st.text(alphabet="ghijklmnopqrstuvwxyz_-[]\"'=; \t%<>/"),
)


@st.composite
def rendered_hop(draw: st.DrawFn, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """Render an address the way some proxy might: bare, with a port, bracketed."""
    port = draw(st.integers(min_value=0, max_value=65535))
    if isinstance(ip, ipaddress.IPv6Address):
        return draw(st.sampled_from([str(ip), f"[{ip}]", f"[{ip}]:{port}", ip.exploded]))
    return draw(st.sampled_from([str(ip), f"{ip}:{port}"]))


def as_forwarded(hop: str) -> str:
    return f'for="{hop}";proto=https' if ":" in hop or "[" in hop else f"for={hop}"


@st.composite
def header_with_ips(draw: st.DrawFn, kind: str) -> tuple[list[str], set[str]]:
    """Header values mixing real addresses and near misses, plus the canonical addresses used."""
    items = draw(st.lists(st.one_of(any_ip, trusted_ip, not_an_ip), max_size=12))
    hops: list[str] = []
    used: set[str] = set()
    for item in items:
        if isinstance(item, str):
            hops.append(f"for={item}" if kind == FWD and draw(st.booleans()) else item)
            continue
        used.add(canonical(item))
        hop = draw(rendered_hop(item))
        hops.append(as_forwarded(hop) if kind == FWD else hop)
    cut = draw(st.integers(min_value=0, max_value=len(hops)))
    lines = [", ".join(hops[:cut]), ", ".join(hops[cut:])]
    return [line for line in lines if line], used


@given(
    peer=st.one_of(
        any_ip.map(str),
        st.ip_addresses(v=6).map(lambda ip: f"{ip}%eth0"),
        st.ip_addresses(v=6).map(lambda ip: f"[{ip}]"),
        latin1_text,
    ),
    values=st.lists(latin1_text, max_size=5),
    kind=st.sampled_from([XFF, FWD]),
)
def test_property_untrusted_peer_is_returned_canonical_or_none(
    peer: str, values: list[str], kind: str
) -> None:
    proxies = TrustedProxies(TRUSTED, header=kind)
    assume(not proxies.is_trusted(peer))
    try:
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(peer)
    except ValueError:
        ip = None
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id is not None:
        ip = ipaddress.IPv6Address(int(ip))  # the server's zone id is dropped
    expected = None if ip is None or len(peer) > 100 else canonical(ip)
    assert proxies.client_ip(peer, values) == expected
    assert canonical_peer(peer) == expected


@given(
    peer=st.one_of(st.none(), trusted_ip.map(str), any_ip.map(str)),
    data=st.data(),
    kind=st.sampled_from([XFF, FWD]),
)
def test_property_result_is_none_the_peer_or_a_canonical_ip_from_the_header(
    peer: str | None, data: st.DataObject, kind: str
) -> None:
    values, used = data.draw(header_with_ips(kind))
    proxies = PROXIES if kind == XFF else PROXIES_FWD
    result = proxies.client_ip(peer, values)
    if result is None:
        assert peer is None
        return
    assert peer is not None
    assert str(ipaddress.ip_address(result)) == result
    assert str(ipaddress.ip_address(result)) == result
    assert result in used or result == canonical(ipaddress.ip_address(peer))


@given(
    client=untrusted_ip,
    client_hop=st.data(),
    proxies_chain=st.lists(trusted_ip, max_size=20),
    peer=trusted_ip,
    spoofed=st.lists(st.one_of(any_ip.map(str), not_an_ip), max_size=5),
    kind=st.sampled_from([XFF, FWD]),
)
def test_property_client_behind_trusted_chain_is_found(
    client: ipaddress.IPv4Address | ipaddress.IPv6Address,
    client_hop: st.DataObject,
    proxies_chain: list[ipaddress.IPv4Address | ipaddress.IPv6Address],
    peer: ipaddress.IPv4Address | ipaddress.IPv6Address,
    spoofed: list[str],
    kind: str,
) -> None:
    hops = [client_hop.draw(rendered_hop(ip)) for ip in [client, *proxies_chain]]
    if kind == FWD:
        hops = [as_forwarded(hop) for hop in hops]
        spoofed = [f"for={hop}" for hop in spoofed]
    # Whatever the client wrote itself sits left of its own address and cannot matter.
    header = ", ".join([*spoofed, *hops])
    proxies = PROXIES if kind == XFF else PROXIES_FWD
    assert proxies.client_ip(str(peer), [header]) == canonical(client)


@given(
    peer=st.one_of(st.none(), latin1_text, any_ip.map(str), trusted_ip.map(str)),
    values=st.lists(latin1_text, max_size=5),
    trusted=st.sampled_from([TRUSTED, ["*"], [], "127.0.0.1, 10.0.0.0/8"]),
    kind=st.sampled_from([XFF, FWD]),
)
def test_property_arbitrary_header_text_never_raises(
    peer: str | None, values: list[str], trusted: str | list[str], kind: str
) -> None:
    result = TrustedProxies(trusted, header=kind).client_ip(peer, values)
    assert result is None or str(ipaddress.ip_address(result)) == result


@given(
    headers=st.lists(
        st.tuples(
            st.sampled_from([b"x-forwarded-for", b"X-FORWARDED-FOR", b"a"]), st.binary(max_size=64)
        ),
        max_size=5,
    ),
    peer=st.one_of(st.none(), trusted_ip.map(str)),
)
def test_property_raw_scope_headers_never_raise(
    headers: list[tuple[bytes, bytes]], peer: str | None
) -> None:
    result = PROXIES.client_ip_from_scope_headers(peer, headers)
    assert result is None or str(ipaddress.ip_address(result)) == result
