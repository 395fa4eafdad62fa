"""The span finders one by one, with exact offsets: pairs, the token growth around a
span, and where the reference scanner resumes after a kept or refused match."""

from __future__ import annotations

from asgi_audit.record.pairs import has_flag, pair_spans
from asgi_audit.record.percent import extend_to_token
from asgi_audit.record.scanner import Hit, Rule, Scanner


def secret(key: str) -> bool:
    return key.lower() in {"password", "token"}


def spans(text: str) -> list[tuple[int, int, str]]:
    return pair_spans(text, secret)


def test_a_bare_value_after_equals_ends_at_whitespace_or_a_separator() -> None:
    assert spans("a=1&password=hunter2&b=2") == [(13, 20, "key password")]
    assert spans("password=hunter2 next") == [(9, 16, "key password")]


def test_a_value_after_a_colon_runs_to_the_end_of_the_line() -> None:
    assert spans("token: abc def\nx") == [(7, 14, "key token")]


def test_a_quoted_value_is_its_inside() -> None:
    text = 'password="a b c", x'
    assert spans(text) == [(10, 15, "key password")]
    assert text[10:15] == "a b c"
    text = "{'token': 'q w'}"
    assert spans(text) == [(11, 14, "key token")]


def test_a_value_quoted_inside_a_json_string_is_its_inside() -> None:
    text = '{\\"password\\": \\"s3 cr3t\\"}'
    (span,) = spans(text)
    assert text[span[0] : span[1]] == "s3 cr3t"
    double = '\\\\"token\\\\": \\\\"abc\\\\"'
    (span,) = spans(double)
    assert double[span[0] : span[1]] == "abc"


def test_a_separator_inside_a_secret_value_starts_no_pair_and_later_pairs_count() -> None:
    text = "password=a:b=c&token=zz"
    assert spans(text) == [(9, 14, "key password"), (21, 23, "key token")]
    assert spans("password: x=token=y") == [(10, 19, "key password")]
    # The first pair's key is not secret: the scan goes on to the next separator.
    assert spans("x=1&password=p") == [(13, 14, "key password")]


def test_a_placeholder_is_not_a_value() -> None:
    assert spans("password = $1, token = ?") == []
    assert spans("password = $1x") == [(11, 14, "key password")]
    assert spans("token=%(token)s") == []


def test_a_span_grows_to_the_edges_of_its_token_but_not_into_an_escape() -> None:
    assert extend_to_token("ab", 1, 2) == (0, 2)
    assert extend_to_token("x-y_z", 2, 3) == (0, 5)
    assert extend_to_token("a.bc d", 2, 3) == (2, 4)
    assert extend_to_token("%3Dabc", 3, 4) == (3, 6)
    assert extend_to_token("q%3Dabc", 4, 5) == (4, 7)
    assert extend_to_token("%zDabc", 3, 4) == (1, 6)  # not an escape: "z" is not hex
    assert extend_to_token("%3zabc", 3, 4) == (1, 6)
    assert extend_to_token("3Dabc", 2, 3) == (0, 5)  # no "%" before it


def test_a_refused_match_resumes_one_character_later() -> None:
    # "aaab" has too little entropy; "aabc" one character later is kept.
    scanner = Scanner([Rule("r", "[a-d]{4}", (), 1.5, False)])
    assert scanner.hits("aaabcd") == [Hit(1, 5, 0)]


def test_a_kept_match_resumes_at_its_end() -> None:
    scanner = Scanner([Rule("r", "[a-f]{3}", (), 0.0, False)])
    assert scanner.hits("abcdef") == [Hit(0, 3, 0), Hit(3, 6, 0)]


def test_the_entropy_floor_is_inclusive_and_applies_from_any_positive_value() -> None:
    exact = Scanner([Rule("r", "[a-d]{4}", (), 2.0, False)])
    assert exact.hits("abcd") == [Hit(0, 4, 0)]  # exactly 2 bits
    low = Scanner([Rule("r", "[a-d]{4}", (), 0.5, False)])
    assert low.hits("aaaa") == []


def test_an_unmatched_secret_group_is_no_hit() -> None:
    scanner = Scanner([Rule("r", "ab(?P<secret>[0-9]{2})?", (), 0.0, False)])
    assert scanner.hits("ab") == []
    assert scanner.hits("ab12") == [Hit(2, 4, 0)]


def test_a_lone_surrogate_does_not_stop_the_keyword_search() -> None:
    scanner = Scanner([Rule("gh", "ghp_[a-z]{4}", ("ghp_",))])
    assert scanner.hits("\ud800 ghp_abcd") == [Hit(2, 10, 0)]


def test_a_flag_can_start_the_text_or_follow_any_non_word_character() -> None:
    assert has_flag(b"-p hunter2")
    assert has_flag(b"mysql --password x")
    assert has_flag(b"mysql\t--password x")
    assert has_flag(b"run(--token x)")
    assert has_flag("caf\u00e9 --token x".encode())
    assert not has_flag(b"a-b well-known x--y")
    assert not has_flag(b"no flags here")


def test_a_query_strings_plus_is_read_as_a_space_too() -> None:
    from asgi_audit.record.redaction import Redactor

    r = Redactor()
    uuid = "87d82592-4817-4aae-aea6-55a22f6e6505"
    cases = {
        "q=ldapsearch+-x+-w+.%40Hje%23K8l%5E%217E.U%2A+-b+dc%3Dexample": "%40Hje",
        f"q=ai21_key%3A+{uuid}&page=2": uuid,
        "q=mysql+-u+root+--password+s3cr3tpw": "s3cr3tpw",
    }
    for text, secret in cases.items():
        masked = r.redact_text(text)
        assert secret not in masked, text
        assert masked.startswith("q="), masked
        assert any(what.endswith("(+ as a space)") for _, _, what in r.findings(text)), text
    # base64's "+" is not a space for random runs: the readings as written judge them.
    token = "AbC+dEf/ghIJ+klMnOpQrStUv+wxYZ0123456789ab"
    assert token not in r.redact_text(f"blob {token} end%20x")
    assert r.redact_text("a+b=c+d and 1+1=2") == "a+b=c+d and 1+1=2"


def test_a_secret_key_without_a_value_does_not_stop_the_pairs_after_it() -> None:
    from asgi_audit.record.secretkeys import DEFAULT_SECRET_WORDS, is_secret

    text = "password=&token=abc123 x"
    spans = pair_spans(text, lambda key: is_secret(key, DEFAULT_SECRET_WORDS))
    assert [text[s:e] for s, e, _ in spans] == ["abc123"]
