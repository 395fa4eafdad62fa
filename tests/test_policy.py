"""Tests for asgi_audit.web.policy: ordered rules, first match wins, checked at construction."""

from __future__ import annotations

import dataclasses
import fnmatch
import re
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from asgi_audit.web.middleware import DEFAULT_EXCLUDE
from asgi_audit.web.policy import (
    DEFAULT_HEADERS,
    DEFAULT_POLICY,
    LEVELS,
    AuditPolicy,
    Decision,
    Level,
    PolicyError,
    Rule,
)

NOTHING: frozenset[str] = frozenset()


def none(rule: str | None) -> Decision:
    return Decision("none", rule, NOTHING, 0)


def meta(rule: str | None) -> Decision:
    return Decision("metadata", rule, NOTHING, 0)


def req(rule: str | None, headers: frozenset[str] = DEFAULT_HEADERS) -> Decision:
    return Decision("request", rule, headers, 0)


def full(rule: str | None, headers: frozenset[str] = DEFAULT_HEADERS, cap: int = 4096) -> Decision:
    return Decision("request_response", rule, headers, cap)


def at(path: str, method: str = "GET", **identity: Any) -> dict[str, Any]:
    """A request: path, method, and optionally category, user_id and roles."""
    return {"path": path, "method": method, **identity}


def rule(**fields: Any) -> Rule:
    """A Rule from untyped fields, for the invalid values the type checker would refuse."""
    return Rule(**fields)


ADMIN_OFF = Rule("none", paths=["/admin/*"])
ADMIN_FULL = Rule("request_response", paths=["/admin/*"])
ALICE_FULL = Rule("request_response", paths=["/admin/*"], users=["alice"], name="alice")
STAFF = Rule("request", roles=["admin", "auditor"], name="staff")

# --- decide: (rules or policy, request) -> decision ------------------------------------------

DECIDE_CASES = [
    # first match wins: the order of the rules is the order of evaluation
    pytest.param([ADMIN_OFF, ADMIN_FULL], at("/admin/x"), none("#1"), id="first-match-wins"),
    pytest.param([ADMIN_FULL, ADMIN_OFF], at("/admin/x"), full("#1"), id="order-matters"),
    pytest.param(
        [Rule("none", paths=["/admin/health"]), Rule("request", paths=["/admin/*"])],
        at("/admin/health"),
        none("#1"),
        id="specific-before-general",
    ),
    pytest.param(
        [Rule("none", paths=["/admin/health"]), Rule("request", paths=["/admin/*"])],
        at("/admin/users"),
        req("#2"),
        id="falls-through-to-general",
    ),
    pytest.param(
        [Rule("none", paths=["/x"]), Rule("request", name="catch-all")],
        at("/y"),
        req("catch-all"),
        id="catch-all-last",
    ),
    # globs: fnmatch semantics on the whole path, where * also crosses /
    pytest.param([ADMIN_OFF], at("/admin/users/7"), none("#1"), id="glob-star-crosses-slash"),
    pytest.param([ADMIN_OFF], at("/administrator"), meta(None), id="glob-needs-the-slash"),
    pytest.param([ADMIN_OFF], at("/admin"), meta(None), id="glob-dir-itself-not-matched"),
    pytest.param([Rule("none", paths=["*.json"])], at("/a/b.json"), none("#1"), id="glob-suffix"),
    pytest.param(
        [Rule("none", paths=["*.json"])], at("/a/b.jsonl"), meta(None), id="glob-suffix-whole"
    ),
    pytest.param([Rule("none", paths=["/login"])], at("/login"), none("#1"), id="glob-exact"),
    pytest.param(
        [Rule("none", paths=["/login"])], at("/login/"), meta(None), id="glob-exact-no-slash"
    ),
    pytest.param(
        [Rule("none", paths=["/login"])], at("/LOGIN"), meta(None), id="glob-case-sensitive"
    ),
    pytest.param(
        [Rule("none", paths=["/v[12]/?"])], at("/v2/x"), none("#1"), id="glob-class-and-qmark"
    ),
    pytest.param(
        [Rule("none", paths=["/a", "/b/*"])], at("/b/c"), none("#1"), id="glob-any-of-several"
    ),
    # regular expressions: "re:" or compiled, always matching the whole path
    pytest.param(
        [Rule("none", paths=[r"re:/users/\d+"])], at("/users/42"), none("#1"), id="re-prefix"
    ),
    pytest.param(
        [Rule("none", paths=["re:/users"])], at("/users/42"), meta(None), id="re-fullmatch"
    ),
    pytest.param(
        [Rule("none", paths=[r"re:/users/\d+"])], at("/users/42/x"), meta(None), id="re-no-trailing"
    ),
    pytest.param(
        [Rule("none", paths=[re.compile(r"/orders/[0-9a-f]{8}")])],
        at("/orders/deadbeef"),
        none("#1"),
        id="re-compiled",
    ),
    pytest.param(
        [Rule("none", paths=[re.compile("/api/.*", re.IGNORECASE)])],
        at("/API/v1"),
        none("#1"),
        id="re-compiled-keeps-flags",
    ),
    pytest.param(
        [Rule("none", paths=["/static/*", "re:/files/.+"])],
        at("/files/a"),
        none("#1"),
        id="globs-and-regexes-mixed",
    ),
    # methods: any case
    pytest.param(
        [Rule("request", methods=["post"])], at("/x", "POST"), req("#1"), id="method-lower-rule"
    ),
    pytest.param(
        [Rule("request", methods=["POST"])], at("/x", "post"), req("#1"), id="method-lower-req"
    ),
    pytest.param(
        [Rule("request", methods=["POST", "PUT"])], at("/x"), meta(None), id="method-mismatch"
    ),
    pytest.param([Rule("request", methods=["*"])], at("/x", "DELETE"), req("#1"), id="method-star"),
    pytest.param(
        [Rule("request", paths=["/x"], methods=["POST"], categories=["auth"])],
        at("/x", "POST", category="api_audit"),
        meta(None),
        id="all-selectors-must-match",
    ),
    # categories
    pytest.param(
        [Rule("none", categories=["auth"])], at("/x", category="auth"), none("#1"), id="category"
    ),
    pytest.param(
        [Rule("none", categories=["auth"])], at("/x"), meta(None), id="category-default-api-audit"
    ),
    pytest.param(
        [Rule("none", categories=["billing-events"])],
        at("/x", category="billing-events"),
        none("#1"),
        id="category-custom",
    ),
    # users and roles; unknown identities never match
    pytest.param([ALICE_FULL], at("/admin/x", user_id="alice"), full("alice"), id="user"),
    pytest.param([ALICE_FULL], at("/admin/x", user_id="bob"), meta(None), id="user-other"),
    pytest.param([ALICE_FULL], at("/admin/x", user_id="Alice"), meta(None), id="user-exact-case"),
    pytest.param([ALICE_FULL], at("/admin/x"), meta(None), id="user-unknown"),
    pytest.param([STAFF], at("/x", roles=["viewer", "auditor"]), req("staff"), id="roles-any-of"),
    pytest.param([STAFF], at("/x", roles=["viewer"]), meta(None), id="roles-none-held"),
    pytest.param([STAFF], at("/x", user_id="alice"), meta(None), id="roles-unknown"),
    pytest.param(
        [ALICE_FULL, Rule("request", paths=["/admin/*"])],
        at("/admin/x"),
        req("#2"),
        id="identity-rule-skipped-when-unknown",
    ),
    # the default level
    pytest.param([], at("/x"), meta(None), id="no-rules-default"),
    pytest.param(AuditPolicy(default_level="none"), at("/x"), none(None), id="default-none"),
    pytest.param(AuditPolicy(default_level="request"), at("/x"), req(None), id="default-request"),
    # headers and body limits: the rule's, else the policy's; only from the level that uses them
    pytest.param(
        [Rule("request", headers=["Accept", "X-Tenant"])],
        at("/x"),
        req("#1", frozenset({"accept", "x-tenant"})),
        id="rule-headers-lowered",
    ),
    pytest.param(
        [Rule("request", headers=["*", "accept"])], at("/x"), req("#1", frozenset({"*"})), id="star"
    ),
    pytest.param([Rule("request", headers=[])], at("/x"), req("#1", NOTHING), id="rule-no-headers"),
    pytest.param(
        AuditPolicy([Rule("request")], headers=["X-Trace"]),
        at("/x"),
        req("#1", frozenset({"x-trace"})),
        id="policy-headers",
    ),
    pytest.param(
        [Rule("request_response", max_body_bytes=1024)],
        at("/x"),
        full("#1", cap=1024),
        id="rule-cap",
    ),
    pytest.param(
        [Rule("request_response", max_body_bytes=0)],
        at("/x"),
        full("#1", cap=0),
        id="rule-cap-zero",
    ),
    pytest.param(
        AuditPolicy([Rule("request_response")], max_body_bytes=100),
        at("/x"),
        full("#1", cap=100),
        id="policy-cap",
    ),
    pytest.param(
        [Rule("metadata", headers=["accept"], max_body_bytes=10)],
        at("/x"),
        meta("#1"),
        id="headers-and-cap-unused-below-their-level",
    ),
    pytest.param(
        [Rule("request", max_body_bytes=10)], at("/x"), req("#1"), id="cap-unused-at-request"
    ),
    # the default policy
    pytest.param(DEFAULT_POLICY, at("/health"), none("health checks"), id="default-health"),
    pytest.param(DEFAULT_POLICY, at("/readyz"), none("health checks"), id="default-readyz"),
    pytest.param(DEFAULT_POLICY, at("/metrics"), none("health checks"), id="default-metrics"),
    pytest.param(DEFAULT_POLICY, at("/favicon.ico"), none("health checks"), id="default-favicon"),
    pytest.param(DEFAULT_POLICY, at("/api/users", "POST"), meta(None), id="default-normal-path"),
    pytest.param(DEFAULT_POLICY, at("/health/deep"), meta(None), id="default-health-exact"),
    # mappings, as from a config file
    pytest.param(
        [{"level": "none", "paths": ["/health"]}], at("/health"), none("#1"), id="mapping"
    ),
    pytest.param(
        [{"level": "request", "methods": ["delete"], "name": "deletes"}],
        at("/items/1", "DELETE"),
        req("deletes"),
        id="mapping-named",
    ),
]


@pytest.mark.parametrize(("rules", "request_", "expected"), DECIDE_CASES)
def test_decide_table(rules: Any, request_: dict[str, Any], expected: Decision) -> None:
    policy = rules if isinstance(rules, AuditPolicy) else AuditPolicy(rules)
    assert policy.decide(**request_) == expected


def test_roles_may_be_any_iterable_even_a_generator() -> None:
    policy = AuditPolicy([STAFF, Rule("none", roles=["viewer"])])
    assert policy.decide(path="/x", method="GET", roles=(r for r in ["viewer"])).rule == "#2"


def test_roles_given_as_a_string_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="'admin'"):
        DEFAULT_POLICY.decide(path="/x", method="GET", roles="admin")


# --- invalid policies ------------------------------------------------------------------------

INVALID_RULES = [
    pytest.param(rule(level="full", name="n"), ["invalid level 'full'"], id="level"),
    pytest.param(rule(level=None, name="n"), ["invalid level None"], id="level-none"),
    pytest.param(rule(level="none", paths=[""], name="n"), ["path pattern ''"], id="empty-glob"),
    pytest.param(
        rule(level="none", paths=["re:"], name="n"), ["path pattern 're:'"], id="empty-re"
    ),
    pytest.param(rule(level="none", paths=["re:/a("], name="n"), ["regex 're:/a('"], id="bad-re"),
    pytest.param(
        rule(level="none", paths=["admin/*"], name="n"), ["'admin/*'"], id="glob-no-slash"
    ),
    pytest.param(rule(level="none", paths=[None], name="n"), ["pattern None"], id="path-none"),
    pytest.param(
        rule(level="none", paths=[re.compile(b"/x")], name="n"),
        ["re.compile(b'/x')"],
        id="bytes-re",
    ),
    pytest.param(rule(level="none", paths="/x", name="n"), ["not the string '/x'"], id="paths-str"),
    pytest.param(rule(level="none", paths=7, name="n"), ["paths must be a list, got 7"], id="int"),
    pytest.param(rule(level="none", methods=[1], name="n"), ["invalid method 1"], id="method-int"),
    pytest.param(
        rule(level="none", methods=["GE T"], name="n"), ["method 'GE T'"], id="method-tok"
    ),
    pytest.param(rule(level="none", methods="GET", name="n"), ["string 'GET'"], id="methods-str"),
    pytest.param(
        rule(level="none", categories=["Auth"], name="n"), ["category 'Auth'"], id="category"
    ),
    pytest.param(
        rule(level="none", categories=["auth-events"], name="n"),
        ["'auth-events'"],
        id="category-file",
    ),
    pytest.param(rule(level="none", users=[""], name="n"), ["invalid user ''"], id="empty-user"),
    pytest.param(rule(level="none", roles=[None], name="n"), ["invalid role None"], id="role-none"),
    pytest.param(
        rule(level="none", headers=["x tenant"], name="n"), ["header 'x tenant'"], id="header-name"
    ),
    pytest.param(rule(level="none", headers="accept", name="n"), ["'accept'"], id="headers-str"),
    pytest.param(rule(level="none", max_body_bytes=-1, name="n"), ["max_body_bytes -1"], id="cap"),
    pytest.param(rule(level="none", max_body_bytes="9", name="n"), ["max_body_bytes '9'"], id="c"),
    pytest.param(rule(level="none", max_body_bytes=True, name="n"), ["bytes True"], id="cap-bool"),
    pytest.param({"level": "none", "path": ["/x"], "name": "n"}, ["unknown key 'path'"], id="key"),
    pytest.param({"paths": ["/x"], "name": "n"}, ["missing level"], id="mapping-no-level"),
    pytest.param({"level": "loud", "name": "n"}, ["invalid level 'loud'"], id="mapping-level"),
]


@pytest.mark.parametrize(("bad", "fragments"), INVALID_RULES)
def test_invalid_rule_fails_at_construction_naming_it(bad: Any, fragments: list[str]) -> None:
    rules: list[Any] = [Rule("none", paths=["/ok"]), {"level": "metadata"}, bad]
    with pytest.raises(PolicyError) as caught:
        AuditPolicy(rules)
    message = str(caught.value)
    assert message.startswith("audit policy rule #3 ('n'): ")
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        pytest.param("none", "expected a Rule or a mapping, got 'none'", id="string"),
        pytest.param(42, "expected a Rule or a mapping, got 42", id="int"),
        pytest.param(rule(level="none", name=5), "invalid name 5", id="name-int"),
        pytest.param(rule(level="none", name=""), "invalid name ''", id="name-empty"),
    ],
)
def test_invalid_unnamed_rule_is_named_by_its_number(bad: Any, fragment: str) -> None:
    with pytest.raises(PolicyError, match=re.escape(f"audit policy rule #2: {fragment}")):
        AuditPolicy([Rule("none"), bad])


def test_invalid_level_message_in_full() -> None:
    rules: list[Any] = [Rule("none"), Rule("metadata"), {"level": "full", "name": "admin bodies"}]
    with pytest.raises(PolicyError) as caught:
        AuditPolicy(rules)
    assert str(caught.value) == (
        "audit policy rule #3 ('admin bodies'): invalid level 'full'"
        " (expected one of none, metadata, request, request_response)"
    )
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        pytest.param({"default_level": "full"}, "default_level 'full'", id="default-level"),
        pytest.param(
            {"default_level": "request_response"}, "request_response rule", id="default-bodies"
        ),
        pytest.param({"headers": "accept"}, "not the string 'accept'", id="headers-str"),
        pytest.param({"headers": ["a:b"]}, "header 'a:b'", id="header-name"),
        pytest.param({"max_body_bytes": -5}, "max_body_bytes -5", id="cap"),
        pytest.param({"rules": "/health"}, "not the string '/health'", id="rules-str"),
        pytest.param({"rules": {"level": "none"}}, "rules must be a list", id="rules-mapping"),
    ],
)
def test_invalid_policy_option_fails_at_construction(
    options: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(PolicyError, match=r"^audit policy: ") as caught:
        AuditPolicy(**options)
    assert fragment in str(caught.value)


# --- highest and needs_identity --------------------------------------------------------------

HIGHEST_CASES = [
    pytest.param([ADMIN_FULL], at("/admin/x"), full("#1"), id="no-identity-same-as-decide"),
    pytest.param(
        [ALICE_FULL, Rule("metadata", paths=["/admin/*"])],
        at("/admin/x"),
        full("alice"),
        id="identity-rule-may-match",
    ),
    pytest.param([ALICE_FULL], at("/public"), meta(None), id="identity-rule-other-path"),
    pytest.param(
        [ADMIN_OFF, ALICE_FULL], at("/admin/x"), none("#1"), id="unreachable-after-plain-match"
    ),
    pytest.param([Rule("none", users=["bot"])], at("/x"), meta(None), id="default-may-apply"),
    pytest.param(
        [Rule("request", users=["bot"]), Rule("none")], at("/x"), req("#1"), id="plain-lower"
    ),
    pytest.param(
        [Rule("request_response", methods=["post"], roles=["admin"])],
        at("/x", "post"),
        full("#1"),
        id="method-any-case",
    ),
    pytest.param(
        [
            Rule("request", roles=["admin"]),
            Rule("request_response", roles=["auditor"], max_body_bytes=100, name="auditors"),
            Rule("request_response", users=["alice"], max_body_bytes=5000, headers=["*"]),
            Rule("metadata"),
        ],
        at("/x"),
        full("auditors", frozenset({"*"}), 5000),
        id="merged-at-top-level",
    ),
]


@pytest.mark.parametrize(("rules", "request_", "expected"), HIGHEST_CASES)
def test_highest_table(rules: list[Rule], request_: dict[str, Any], expected: Decision) -> None:
    assert AuditPolicy(rules).highest(**request_) == expected


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        pytest.param([], False, id="no-rules"),
        pytest.param(
            [ADMIN_FULL, Rule("none", methods=["GET"], categories=["auth"])], False, id="plain"
        ),
        pytest.param([ADMIN_OFF, ALICE_FULL], True, id="users"),
        pytest.param([STAFF], True, id="roles"),
        pytest.param([{"level": "none", "users": []}], False, id="empty-users"),
    ],
)
def test_needs_identity(rules: list[Rule], expected: bool) -> None:
    assert AuditPolicy(rules).needs_identity is expected


def test_default_policy_needs_no_identity_and_excludes_the_middleware_defaults() -> None:
    assert not DEFAULT_POLICY.needs_identity
    assert DEFAULT_POLICY.default_level == "metadata"
    for path in DEFAULT_EXCLUDE:
        assert not DEFAULT_POLICY.decide(path=path, method="GET").records


# --- Decision, constants, rules, repr --------------------------------------------------------


def test_levels_in_increasing_order() -> None:
    assert LEVELS == ("none", "metadata", "request", "request_response")


@pytest.mark.parametrize(
    ("level", "other", "expected"),
    [
        ("none", "none", True),
        ("none", "metadata", False),
        ("metadata", "metadata", True),
        ("request", "metadata", True),
        ("request", "request_response", False),
        ("request_response", "request", True),
    ],
)
def test_decision_at_least(level: Level, other: Level, expected: bool) -> None:
    assert Decision(level, None, NOTHING, 0).at_least(other) is expected
    assert Decision(level, None, NOTHING, 0).records is (level != "none")


def test_decision_at_least_rejects_an_unknown_level() -> None:
    with pytest.raises(ValueError, match="'full'"):
        meta(None).at_least("full")  # type: ignore[arg-type]


def test_decision_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        meta(None).level = "none"  # type: ignore[misc]


def test_default_headers_are_safe() -> None:
    assert {"authorization", "cookie", "proxy-authorization", "x-api-key"}.isdisjoint(
        DEFAULT_HEADERS
    )
    assert {"user-agent", "content-type", "x-request-id", "forwarded"} <= DEFAULT_HEADERS
    assert all(name == name.lower() for name in DEFAULT_HEADERS)


def test_rules_are_normalised_and_mappings_become_rules() -> None:
    policy = AuditPolicy(
        [
            {"level": "request", "methods": ["get", "Post"], "headers": ["X-B", "Accept"]},
            rule(level="none", paths=["/a"], users={"u"}, name="named"),
        ]
    )
    first, second = policy.rules
    assert first == Rule("request", methods=("GET", "POST"), headers=("accept", "x-b"))
    assert second == Rule("none", paths=("/a",), users=("u",), name="named")


def test_repr_names_the_rules_and_the_defaults() -> None:
    text = repr(AuditPolicy([Rule("none", name="quiet"), Rule("request")], max_body_bytes=10))
    assert text.startswith("AuditPolicy([")
    for part in ("'quiet': none", "'#2': request", "default_level='metadata'", "max_body_bytes=10"):
        assert part in text
    assert "headers=DEFAULT_HEADERS" in text
    assert "headers=['a', 'b']" in repr(AuditPolicy(headers=["B", "a"]))


def test_rule_fields_after_level_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        Rule("none", ["/x"])  # type: ignore[call-arg]


def test_deciding_compiles_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    policy = AuditPolicy([Rule("none", paths=["/a/*", r"re:/b/\d+"], methods=["get"]), STAFF])

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("compiled while deciding")

    monkeypatch.setattr(re, "compile", refuse)
    monkeypatch.setattr(fnmatch, "translate", refuse)
    assert policy.decide(path="/b/12", method="get").rule == "#1"
    assert policy.highest(path="/c", method="GET").rule == "staff"


# --- properties ------------------------------------------------------------------------------

PATHS = st.text(st.characters(exclude_characters="\x00"), max_size=40)
PATTERNS = st.sampled_from(
    ["/admin/*", "*.json", "/login", "/v[12]/*", "*", r"re:/users/\d+", "re:.*x.*", "/[!a]*"]
)
SOME_RULES = st.lists(
    st.builds(
        Rule,
        st.sampled_from(LEVELS),
        paths=st.lists(PATTERNS, max_size=3),
        methods=st.lists(st.sampled_from(["GET", "post", "*"]), max_size=2),
        users=st.lists(st.sampled_from(["alice", "bob"]), max_size=1),
        roles=st.lists(st.sampled_from(["admin"]), max_size=1),
    ),
    max_size=5,
)


@given(
    rules=SOME_RULES,
    last=st.sampled_from(LEVELS),
    path=PATHS,
    method=st.sampled_from(["GET", "POST", "delete"]),
    user_id=st.none() | st.sampled_from(["alice", "bob"]),
    roles=st.lists(st.sampled_from(["admin", "viewer"]), max_size=2),
)
def test_a_catch_all_rule_always_decides(
    rules: list[Rule], last: Level, path: str, method: str, user_id: str | None, roles: list[str]
) -> None:
    policy = AuditPolicy([*rules, Rule(last, name="catch-all")])
    decision = policy.decide(path=path, method=method, user_id=user_id, roles=roles)
    assert decision.rule is not None
    assert decision.level in LEVELS
    if decision.rule == "catch-all":
        assert decision.level == last
    assert policy.highest(path=path, method=method).at_least(decision.level)


GLOBS = st.builds(
    str.__add__,
    st.sampled_from(["/", "*"]),
    st.text(st.sampled_from("/ab.*?[]!-"), max_size=10),
)


@given(glob=GLOBS, path=PATHS | st.text(st.sampled_from("/ab.-[]!"), max_size=12))
@example(glob="/admin/*", path="/admin/a/b")
@example(glob="/[!a]", path="/b")
@example(glob="/[", path="/[")
def test_a_single_glob_rule_agrees_with_fnmatchcase(glob: str, path: str) -> None:
    policy = AuditPolicy([Rule("none", paths=[glob])])
    expected = "none" if fnmatch.fnmatchcase(path, glob) else "metadata"
    assert policy.decide(path=path, method="GET").level == expected
