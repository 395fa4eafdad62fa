//! The shapes of secrets in free text: the compiled form of
//! `asgi_audit.record.shapes.shape_spans`, for ASCII text.
//!
//! Each function here gives exactly what its Python counterpart gives on the same
//! ASCII text; where it cannot (a base64 run that decodes to text outside ASCII,
//! whose printability Python's Unicode tables decide), it says so with `None` and
//! the caller falls back to the reference.
//!
//! The patterns of the reference are matched by hand, each as Python's
//! backtracking `re` matches it on ASCII text (`finditer`: a failed attempt at a
//! position retries one on, a match resumes the search at its end). The comment
//! over each matcher says why its one pass finds what the backtracking finds.

use crate::scan::entropy;

/// Lengths of hex runs that are kept as digests or ids rather than masked.
const DIGEST_HEX_LENGTHS: [usize; 5] = [32, 40, 64, 96, 128];

// Byte classes, one bit each (ASCII; every byte from 0x80 is in none).
/// `\w`: `[A-Za-z0-9_]`.
const WORD: u16 = 1;
/// `[A-Za-z0-9+/_~.-]`: a long run's characters, and a scheme credential's.
const RUN: u16 = 1 << 1;
/// `[0-9a-fA-F]`.
const HEX: u16 = 1 << 2;
/// Python's `\s` on ASCII: `[ \t\n\r\x0b\x0c\x1c-\x1f]`.
const SPACE: u16 = 1 << 3;
/// `[0-9]`.
const DIGIT: u16 = 1 << 4;
/// `[A-Za-z0-9+/]`: base64.
const B64: u16 = 1 << 5;
/// `[A-Za-z0-9_-]`: base64url, and a JWT's pieces.
const URL64: u16 = 1 << 6;
/// `[ A-Z0-9]`: the words of a PEM marker.
const PEM: u16 = 1 << 7;
/// `[A-Za-z0-9+.-]`: a URL scheme's characters after the first.
const SCHEME: u16 = 1 << 8;
/// `[A-Za-z0-9/_-]`: a Slack webhook's path.
const SLACK: u16 = 1 << 9;
/// `[A-Za-z0-9._@+-]`: the user of a `user:password` pair.
const USER: u16 = 1 << 10;
/// `[\s/?#]`: what ends a URL's authority.
const URL_END: u16 = 1 << 11;
/// `[A-Za-z]`.
const ALPHA: u16 = 1 << 12;

static CLASS: [u16; 256] = classes();

const fn classes() -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 128 {
        let c = i as u8;
        let alpha = c.is_ascii_alphabetic();
        let digit = c.is_ascii_digit();
        let alnum = alpha || digit;
        let space = matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | 0x1c..=0x1f);
        let mut f = 0u16;
        if alnum || c == b'_' {
            f |= WORD;
        }
        if alnum || matches!(c, b'+' | b'/' | b'_' | b'~' | b'.' | b'-') {
            f |= RUN;
        }
        if c.is_ascii_hexdigit() {
            f |= HEX;
        }
        if space {
            f |= SPACE;
        }
        if digit {
            f |= DIGIT;
        }
        if alnum || matches!(c, b'+' | b'/') {
            f |= B64;
        }
        if alnum || matches!(c, b'_' | b'-') {
            f |= URL64;
        }
        if c.is_ascii_uppercase() || digit || c == b' ' {
            f |= PEM;
        }
        if alnum || matches!(c, b'+' | b'.' | b'-') {
            f |= SCHEME;
        }
        if alnum || matches!(c, b'/' | b'_' | b'-') {
            f |= SLACK;
        }
        if alnum || matches!(c, b'.' | b'_' | b'@' | b'+' | b'-') {
            f |= USER;
        }
        if space || matches!(c, b'/' | b'?' | b'#') {
            f |= URL_END;
        }
        if alpha {
            f |= ALPHA;
        }
        table[i] = f;
        i += 1;
    }
    table
}

#[inline]
fn is(c: u8, class: u16) -> bool {
    CLASS[usize::from(c)] & class != 0
}

/// Whether `text[i]` exists and is in `class`.
#[inline]
fn is_at(text: &[u8], i: usize, class: u16) -> bool {
    text.get(i).is_some_and(|&c| is(c, class))
}

/// The end of the run of `class` that starts at `from`.
#[inline]
fn run_end(text: &[u8], from: usize, class: u16) -> usize {
    let mut i = from;
    while i < text.len() && is(text[i], class) {
        i += 1;
    }
    i
}

/// `\b` before a word character at `i`.
#[inline]
fn word_start(text: &[u8], i: usize) -> bool {
    i == 0 || !is(text[i - 1], WORD)
}

/// The first `needle` at or after `from`.
fn find(text: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let first = *needle.first()?;
    let mut i = from;
    while i + needle.len() <= text.len() {
        if text[i] == first && text[i..].starts_with(needle) {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// The first byte at or after `from` that lowers to the letter `lower`. Blocks
/// of 16 bytes without one are passed over branch-free (as vector code).
fn find_folded(text: &[u8], from: usize, lower: u8) -> Option<usize> {
    let mut i = from;
    while let Some(block) = text.get(i..i + 16) {
        if block
            .iter()
            .fold(false, |any, &c| any | (c | 0x20 == lower))
        {
            break;
        }
        i += 16;
    }
    let found = text.get(i..)?.iter().position(|&c| c | 0x20 == lower);
    found.map(|k| i + k)
}

/// Whether `text` holds `word` (lower-case letters) at `i`, in any case.
#[inline]
fn word_at(text: &[u8], i: usize, word: &[u8]) -> bool {
    // For ASCII letters, `| 0x20` lowers; no other byte lowers to a letter.
    text.len() >= i + word.len()
        && text[i..i + word.len()]
            .iter()
            .zip(word)
            .all(|(&c, &w)| c | 0x20 == w)
}

/// The spans `(start, end)` of `text` (ASCII) that hold a secret shape, as
/// `shape_spans(text, random)` finds them (names dropped; unsorted, possibly
/// overlapping), or `None` when only the reference can decide.
pub fn shape_spans(text: &[u8], random: bool) -> Option<Vec<(usize, usize)>> {
    if !text.is_ascii() {
        return None;
    }
    let n = text.len();
    let mut spans = Vec::new();
    if DIGEST_HEX_LENGTHS.contains(&n) && hex_one_case(text) {
        return Some(spans); // a digest or a request id: kept by rule
    }
    let keys = keywords(text);
    if keys & KEY_PEM != 0 {
        pem(text, &mut spans);
    }
    if keys & KEY_SCHEME != 0 {
        auth_scheme(text, &mut spans);
    }
    if keys & KEY_DIGEST != 0 {
        digest_auth(text, &mut spans);
    }
    if keys & KEY_JWT != 0 {
        jwt(text, &mut spans);
    }
    if keys & KEY_URL != 0 {
        url_password(text, &mut spans);
        if find(text, b"hooks.slack.com", 0).is_some() {
            slack_hook(text, &mut spans);
        }
    }
    if n < 16 {
        return Some(spans);
    }
    let digits = digit_count(text);
    if digits >= 13 {
        cards(text, &mut spans);
    }
    if !random {
        return Some(spans);
    }
    if digits >= 6 && n >= 40 {
        random_hex_runs(text, &mut spans);
    }
    if n >= 20 {
        long_runs(text, &mut spans)?;
    }
    Some(spans)
}

/// How many ASCII digits `text` holds (counted in bytes, so that it runs as
/// vector code).
#[inline(never)]
fn digit_count(text: &[u8]) -> usize {
    let mut total = 0;
    for chunk in text.chunks(255) {
        let mut count = 0u8;
        for &c in chunk {
            count += u8::from(c.wrapping_sub(b'0') < 10);
        }
        total += usize::from(count);
    }
    total
}

/// `[0-9a-f]+|[0-9A-F]+` as a fullmatch: hex in one case.
fn hex_one_case(text: &[u8]) -> bool {
    let lower = text
        .iter()
        .all(|&c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
    lower
        || text
            .iter()
            .all(|&c| c.is_ascii_digit() || (b'A'..=b'F').contains(&c))
}

const KEY_PEM: u8 = 1;
const KEY_SCHEME: u8 = 1 << 1;
const KEY_DIGEST: u8 = 1 << 2;
const KEY_JWT: u8 = 1 << 3;
const KEY_URL: u8 = 1 << 4;

/// Which families the text could hold, by three bytes of their words (a superset
/// of the substring tests of the reference: each matcher looks for its own words).
/// Branch-free, so that it runs as vector code.
#[inline(never)]
fn keywords(text: &[u8]) -> u8 {
    let n = text.len();
    if n < 3 {
        return 0;
    }
    let mut keys = 0u8;
    let triples = text[..n - 2].iter().zip(&text[1..n - 1]).zip(&text[2..]);
    for ((&x, &y), &z) in triples {
        // For ASCII letters, `| 0x20` lowers; no other byte lowers to a letter.
        let (lx, ly, lz) = (x | 0x20, y | 0x20, z | 0x20);
        let bearer = (ly == b'e') & (lz == b'a');
        let basic = (ly == b'a') & (lz == b's');
        let scheme = (lx == b'b') & (bearer | basic);
        let digest = (lx == b'd') & (ly == b'i') & (lz == b'g');
        let jwt = (x == b'e') & (y == b'y') & (z == b'J');
        let url = (x == b':') & (y == b'/') & (z == b'/');
        let pem = (x == b'-') & (y == b'-') & (z == b'-');
        keys |= u8::from(pem)
            | u8::from(scheme) << 1
            | u8::from(digest) << 2
            | u8::from(jwt) << 3
            | u8::from(url) << 4;
    }
    keys
}

/// The end of a PEM marker whose words start at `from` (after `-----BEGIN` or
/// `-----END`): `[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----`. The words run to the first
/// byte outside `[ A-Z0-9]`, and "-" is outside, so the `-----` can only start
/// there, and the run must end in `PRIVATE KEY` or `PRIVATE KEY BLOCK`; whichever
/// way the backtracking gets there, the marker ends five bytes on.
fn pem_marker_end(text: &[u8], from: usize) -> Option<usize> {
    let end = run_end(text, from, PEM);
    let words = &text[from..end];
    let marked = words.ends_with(b"PRIVATE KEY") || words.ends_with(b"PRIVATE KEY BLOCK");
    (marked && text[end..].starts_with(b"-----")).then_some(end + 5)
}

/// `_PEM`: a BEGIN marker, then up to the first END marker after it (the lazy
/// `.*?`), or else to the end of the text (`.*\Z`, DOTALL).
fn pem(text: &[u8], spans: &mut Vec<(usize, usize)>) {
    let mut pos = 0;
    while let Some(start) = find(text, b"-----BEGIN", pos) {
        let Some(header) = pem_marker_end(text, start + 10) else {
            pos = start + 1;
            continue;
        };
        let mut end = text.len();
        let mut from = header;
        while let Some(at) = find(text, b"-----END", from) {
            if let Some(footer) = pem_marker_end(text, at + 8) {
                end = footer;
                break;
            }
            from = at + 1;
        }
        spans.push((start, end));
        pos = end;
    }
}

/// `_SCHEME`: `(\b(?i:bearer|basic)[ \t]+)(?![a-z]+\b)(?!-)[A-Za-z0-9._~+/-]{6,}=*(?![A-Za-z0-9._~+/=-])`,
/// the span after the group.
///
/// Only the whole run of blanks can work (a credential character is no blank).
/// `[a-z]+\b` can only end where the lower-case run ends. The credential run can
/// only be taken whole (a shorter one is followed by a credential character, which
/// the last lookahead refuses), and then all its padding (a shorter one is followed
/// by "=").
fn auth_scheme(text: &[u8], spans: &mut Vec<(usize, usize)>) {
    let mut from = 0;
    while let Some(p) = find_folded(text, from, b'b') {
        from = p + 1;
        if !word_start(text, p) {
            continue;
        }
        let word = if word_at(text, p, b"bearer") {
            6
        } else if word_at(text, p, b"basic") {
            5
        } else {
            continue;
        };
        if let Some(span) = auth_credential(text, p + word) {
            spans.push(span);
            from = span.1;
        }
    }
}

fn auth_credential(text: &[u8], after_word: usize) -> Option<(usize, usize)> {
    let n = text.len();
    let mut start = after_word;
    while start < n && matches!(text[start], b' ' | b'\t') {
        start += 1;
    }
    if start == after_word {
        return None;
    }
    let lower = text[start..]
        .iter()
        .take_while(|c| c.is_ascii_lowercase())
        .count();
    if lower > 0 && !is_at(text, start + lower, WORD) {
        return None; // a lower-case word
    }
    if text.get(start) == Some(&b'-') {
        return None; // a flag
    }
    let run = run_end(text, start, RUN);
    if run - start < 6 {
        return None;
    }
    let mut end = run;
    while end < n && text[end] == b'=' {
        end += 1;
    }
    if is_at(text, end, RUN) {
        return None; // "=" inside a key=value
    }
    Some((start, end))
}

/// `_DIGEST`: `(\b(?i:digest)\s+)[^\r\n]+`, the span after the group.
///
/// The whole run of white space is taken if a character follows it (it is no
/// white space, so no line end). At the end of the text the backtracking gives
/// back white space until it finds one that is not a line end, with at least one
/// left for `\s+`.
fn digest_auth(text: &[u8], spans: &mut Vec<(usize, usize)>) {
    let n = text.len();
    let mut from = 0;
    while let Some(p) = find_folded(text, from, b'd') {
        from = p + 1;
        if !word_start(text, p) || !word_at(text, p, b"digest") {
            continue;
        }
        let blank = p + 6;
        let run = run_end(text, blank, SPACE);
        let start = if run == blank {
            None
        } else if run < n {
            Some(run)
        } else {
            (blank + 1..run)
                .rev()
                .find(|&i| !matches!(text[i], b'\r' | b'\n'))
        };
        if let Some(start) = start {
            let line = text[start..]
                .iter()
                .take_while(|&&c| c != b'\r' && c != b'\n');
            let end = start + line.count();
            spans.push((start, end));
            from = end;
        }
    }
}

/// `_JWT`: `\beyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*` ("." ends
/// each run, so each is taken whole).
fn jwt(text: &[u8], spans: &mut Vec<(usize, usize)>) {
    let mut pos = 0;
    while let Some(p) = find(text, b"eyJ", pos) {
        pos = p + 1;
        if !word_start(text, p) {
            continue;
        }
        let header = run_end(text, p + 3, URL64);
        if header - (p + 3) < 2 || text.get(header) != Some(&b'.') {
            continue;
        }
        let payload = run_end(text, header + 1, URL64);
        if payload - (header + 1) < 2 || text.get(payload) != Some(&b'.') {
            continue;
        }
        let end = run_end(text, payload + 1, URL64);
        spans.push((p, end));
        pos = end;
    }
}

/// `_URL_PASSWORD`:
/// `(\b[A-Za-z][A-Za-z0-9+.-]{0,30}://[^\s/:@?#]*:)[^\s/?#]+(?=@[^\s@/?#]*(?:[\s/?#]|\Z))`,
/// the span after the group.
///
/// The scheme, the user and the ":" each have one way to match (each run stops
/// only where the next piece starts). The password run `[^\s/?#]+` is given back
/// from its end until an "@" follows; after the last "@" in the run the rest of it
/// holds no "@" and ends where the run ends, at `[\s/?#]` or the end of the text,
/// so the lookahead holds there: the password ends at the last "@" of the run (not
/// its first character).
fn url_password(text: &[u8], spans: &mut Vec<(usize, usize)>) {
    let n = text.len();
    let mut p = 0;
    let mut slashes = 0; // the first "://" after `p`
    while p < n {
        if slashes <= p {
            let Some(next) = find(text, b"://", p + 1) else {
                return;
            };
            slashes = next;
        }
        // The scheme ends at that "://", at most 31 bytes after its start.
        p = p.max(slashes.saturating_sub(31));
        if is(text[p], ALPHA) && word_start(text, p) {
            if let Some(span) = url_password_at(text, p) {
                spans.push(span);
                p = span.1;
                continue;
            }
        }
        p += 1;
    }
}

fn url_password_at(text: &[u8], p: usize) -> Option<(usize, usize)> {
    let n = text.len();
    let scheme = run_end(text, p + 1, SCHEME);
    if scheme - (p + 1) > 30 || !text[scheme..].starts_with(b"://") {
        return None;
    }
    let mut colon = scheme + 3;
    while colon < n && !is(text[colon], URL_END) && !matches!(text[colon], b':' | b'@') {
        colon += 1;
    }
    if text.get(colon) != Some(&b':') {
        return None;
    }
    let start = colon + 1;
    let mut end = start;
    while end < n && !is(text[end], URL_END) {
        end += 1;
    }
    let at = text[start..end].iter().rposition(|&c| c == b'@')?;
    (at > 0).then_some((start, start + at))
}

/// `_SLACK_HOOK`: `(https://hooks\.slack\.com/(?:services|workflows)/)[A-Za-z0-9/_-]+`.
fn slack_hook(text: &[u8], spans: &mut Vec<(usize, usize)>) {
    const HOST: &[u8] = b"https://hooks.slack.com/";
    let mut pos = 0;
    while let Some(p) = find(text, HOST, pos) {
        pos = p + 1;
        let rest = &text[p + HOST.len()..];
        let path = if rest.starts_with(b"services/") {
            9
        } else if rest.starts_with(b"workflows/") {
            10
        } else {
            continue;
        };
        let start = p + HOST.len() + path;
        let end = run_end(text, start, SLACK);
        if end > start {
            spans.push((start, end));
            pos = end;
        }
    }
}

/// `_CARD`: `(?<![\w.-])[2-6](?:[ -]?\d){12,18}(?!\w)(?!\.\d)`, kept where the
/// digits pass the Luhn check (a match that fails it still moves the search on).
///
/// Each repetition has one way to match (a separator only before a digit). The
/// backtracking tries 18 repetitions (or as many as there are) down to 12; a
/// count below the most possible ends before a digit (refused) or before a
/// separator and a digit (accepted).
fn cards(text: &[u8], spans: &mut Vec<(usize, usize)>) {
    let n = text.len();
    let mut p = 0;
    while p < n {
        let c = text[p];
        if (b'2'..=b'6').contains(&c)
            && (p == 0 || !(is(text[p - 1], WORD) || matches!(text[p - 1], b'.' | b'-')))
        {
            let mut ends = [0usize; 18];
            let mut count = 0;
            let mut i = p + 1;
            while count < 18 {
                if is_at(text, i, DIGIT) {
                    i += 1;
                } else if matches!(text.get(i), Some(b' ' | b'-')) && is_at(text, i + 1, DIGIT) {
                    i += 2;
                } else {
                    break;
                }
                ends[count] = i;
                count += 1;
            }
            let end = (12..=count).rev().map(|k| ends[k - 1]).find(|&e| {
                let decimal = text.get(e) == Some(&b'.') && is_at(text, e + 1, DIGIT);
                !is_at(text, e, WORD) && !decimal
            });
            if let Some(end) = end {
                if luhn_valid(&text[p..end]) {
                    spans.push((p, end));
                }
                p = end;
                continue;
            }
        }
        p += 1;
    }
}

/// The Luhn check of the digits of `number` (its spaces and dashes left out).
fn luhn_valid(number: &[u8]) -> bool {
    let mut total = 0u32;
    let digits = number.iter().rev().filter(|c| c.is_ascii_digit());
    for (i, &c) in digits.enumerate() {
        let mut d = u32::from(c - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        total += d;
    }
    total.is_multiple_of(10)
}

/// `_HEX`: `(?<![A-Za-z0-9_-])[0-9a-fA-F]{40,}(?![A-Za-z0-9_-])`: a whole hex run
/// (a shorter one is followed by hex, refused), and none starts inside a run.
/// Kept where it is random and its length is not a digest's.
fn random_hex_runs(text: &[u8], spans: &mut Vec<(usize, usize)>) {
    let mut from = 0;
    while let Some((p, end)) = next_run(text, from, HEX, 40) {
        if (p == 0 || !is(text[p - 1], URL64)) && !is_at(text, end, URL64) {
            // "%3Ab80...": an escaped ":", then the run.
            let start = if p > 0 && text[p - 1] == b'%' {
                p + 2
            } else {
                p
            };
            let run = &text[start..end];
            if !DIGEST_HEX_LENGTHS.contains(&run.len()) && random_hex(run) {
                spans.push((start, end));
            }
        }
        from = end;
    }
}

/// The next whole run of `class` of `least` bytes or more at or after `from`
/// (where `from` is 0 or follows a byte outside `class`): each window of `least`
/// bytes is read from its end, and the search moves past the last byte outside
/// `class` it finds, so that ordinary text is mostly skipped.
#[inline]
fn next_run(text: &[u8], mut from: usize, class: u16, least: usize) -> Option<(usize, usize)> {
    while from + least <= text.len() {
        match text[from..from + least]
            .iter()
            .rposition(|&c| !is(c, class))
        {
            Some(outside) => from += outside + 1,
            None => return Some((from, run_end(text, from + least, class))),
        }
    }
    None
}

/// Random hex mixes digits and letters and is dense.
fn random_hex(run: &[u8]) -> bool {
    run.iter().any(u8::is_ascii_digit)
        && run.iter().any(u8::is_ascii_alphabetic)
        && entropy(ascii_str(run)) >= 3.0
}

fn ascii_str(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("ASCII")
}

/// `_RUN`: `[A-Za-z0-9+/_~.-]{20,}={0,2}`, each judged by `_run_spans`.
fn long_runs(text: &[u8], spans: &mut Vec<(usize, usize)>) -> Option<()> {
    let mut from = 0;
    while let Some((p, run)) = next_run(text, from, RUN, 20) {
        let mut end = run;
        while end < text.len() && end - run < 2 && text[end] == b'=' {
            end += 1;
        }
        // "%3Ab80..." is ":b80...", escaped.
        let escaped = p > 0 && text[p - 1] == b'%' && is(text[p], HEX) && is(text[p + 1], HEX);
        let start = if escaped { p + 2 } else { p };
        run_spans(&text[start..end], start, spans)?;
        from = end;
    }
    Some(())
}

/// Path separators: `[/.~]`.
#[inline]
fn is_separator(c: u8) -> bool {
    matches!(c, b'/' | b'.' | b'~')
}

/// `_run_spans`: a path or a dotted name judged segment by segment (and by the
/// 40-character windows between two slashes), any other run as a whole.
fn run_spans(run: &[u8], offset: usize, spans: &mut Vec<(usize, usize)>) -> Option<()> {
    let path = run.first() == Some(&b'/') || run.starts_with(b"~/") || run.contains(&b'.');
    if !path {
        if random_run(run)? {
            spans.push((offset, offset + run.len()));
        }
        return Some(());
    }
    // Only a segment of 20 or more characters can be random (`_LONG_SEGMENT`).
    if !run
        .split(|&c| is_separator(c))
        .any(|segment| segment.len() >= 20)
    {
        return Some(());
    }
    let kept = integrity_spans(run);
    let overlaps = |start: usize, end: usize| kept.iter().any(|&(s, e)| s < end && start < e);
    let mut at = 0;
    for segment in run.split(|&c| is_separator(c)) {
        let end = at + segment.len();
        if segment.len() >= 20 && !overlaps(at, end) && random_run(segment)? {
            spans.push((offset + at, offset + end));
        }
        at = end + 1;
    }
    // The 40-character windows between two slashes (or the run's ends) that hold
    // a slash: an AWS secret access key is cut by its own slashes.
    let starts = std::iter::once(0).chain(
        run.iter()
            .enumerate()
            .filter(|&(_, &c)| c == b'/')
            .map(|(k, _)| k + 1),
    );
    for first in starts {
        let last = first + 40;
        if last > run.len() || (last < run.len() && run[last] != b'/') {
            continue;
        }
        let window = &run[first..last];
        if window.contains(&b'/')
            && window.iter().all(|&c| is(c, B64))
            && !overlaps(first, last)
            && random_token(window)
            && !text_in_base64(window)?
        {
            spans.push((offset + first, offset + last));
        }
    }
    Some(())
}

/// `_INTEGRITY_IN` over `run`: `(?<![A-Za-z0-9])sha(?:256|384|512)-[A-Za-z0-9+/]{43,86}={0,2}`
/// (nothing after it is checked, so the first way is the match).
fn integrity_spans(run: &[u8]) -> Vec<(usize, usize)> {
    let mut kept = Vec::new();
    let mut pos = 0;
    while let Some(p) = find(run, b"sha", pos) {
        pos = p + 1;
        if (p > 0 && run[p - 1].is_ascii_alphanumeric()) || !integrity_label(&run[p..]) {
            continue;
        }
        let body = run_end(run, p + 7, B64);
        if body - (p + 7) < 43 {
            continue;
        }
        let mut end = body.min(p + 7 + 86);
        let padded = end;
        while end < run.len() && end - padded < 2 && run[end] == b'=' {
            end += 1;
        }
        kept.push((p, end));
        pos = end;
    }
    kept
}

/// Whether `text` starts with `sha256-`, `sha384-` or `sha512-`.
fn integrity_label(text: &[u8]) -> bool {
    text.len() >= 7
        && text.starts_with(b"sha")
        && matches!(&text[3..6], b"256" | b"384" | b"512")
        && text[6] == b'-'
}

/// `_INTEGRITY` as a fullmatch: `sha(?:256|384|512)-[A-Za-z0-9+/]{43,86}={0,2}`.
fn integrity_whole(run: &[u8]) -> bool {
    if !integrity_label(run) {
        return false;
    }
    let body = run_end(run, 7, B64);
    let padding = &run[body..];
    (43..=86).contains(&(body - 7)) && padding.len() <= 2 && padding.iter().all(|&c| c == b'=')
}

fn strip_padding(run: &[u8]) -> &[u8] {
    let keep = run.len() - run.iter().rev().take_while(|&&c| c == b'=').count();
    &run[..keep]
}

/// `_random`: random, not a labelled digest, not base64 of ordinary text.
fn random_run(run: &[u8]) -> Option<bool> {
    if !random_token(strip_padding(run)) || integrity_whole(run) {
        return Some(false);
    }
    Some(!text_in_base64(run)?)
}

/// `random_token`: without `/+-_`, 20 or more characters that mix digits, upper
/// and lower case, switch between the classes on at least 45% of them, and are
/// dense (entropy 3.5 bits or more).
fn random_token(token: &[u8]) -> bool {
    if token.len() < 20 {
        return false;
    }
    let kept = |c: &&u8| !matches!(c, b'/' | b'+' | b'-' | b'_');
    let mut n = 0usize;
    let mut seen = 0u8;
    let mut switches = 0usize;
    let mut previous = u8::MAX;
    for &c in token.iter().filter(kept) {
        let class = if c.is_ascii_digit() {
            0
        } else if c.is_ascii_uppercase() {
            1
        } else if c.is_ascii_lowercase() {
            2
        } else {
            3
        };
        seen |= 1 << class;
        if n > 0 && class != previous {
            switches += 1;
        }
        previous = class;
        n += 1;
    }
    if n < 20 || seen & 0b111 != 0b111 {
        return false;
    }
    // As Python compares: an int with the float 0.45 * (n - 1).
    if (switches as f64) < 0.45 * ((n - 1) as f64) {
        return false;
    }
    let mut stack = [0u8; 256];
    let mut heap = Vec::new();
    let chars: &mut [u8] = if n <= stack.len() {
        &mut stack[..n]
    } else {
        heap.resize(n, 0);
        &mut heap
    };
    for (slot, &c) in chars.iter_mut().zip(token.iter().filter(kept)) {
        *slot = c;
    }
    entropy(ascii_str(chars)) >= 3.5
}

/// The value of a base64 or base64url character.
fn sextet(c: u8) -> u8 {
    match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' | b'-' => 62,
        _ => 63, // '/' or '_'
    }
}

/// `_text_in_base64`: whether `run` is base64 of ordinary text (printable, half
/// letters, with a separator) and not a `user:password` pair. `None` where the
/// text decoded holds characters outside ASCII that decide it (Python's Unicode
/// tables would).
fn text_in_base64(run: &[u8]) -> Option<bool> {
    let body = strip_padding(run);
    if body.len() < 16 || !(body.iter().all(|&c| is(c, B64)) || body.iter().all(|&c| is(c, URL64)))
    {
        return Some(false);
    }
    // binascii.a2b_base64, not strict, on the padded body: one character over a
    // multiple of four is an error; the bits left over are ignored.
    if body.len() % 4 == 1 {
        return Some(false);
    }
    let size = body.len() / 4 * 3 + [0, 0, 1, 2][body.len() % 4];
    let mut stack = [0u8; 192];
    let mut heap = Vec::new();
    let raw: &mut [u8] = if size <= stack.len() {
        &mut stack[..size]
    } else {
        heap.resize(size, 0);
        &mut heap
    };
    let mut out = 0;
    for quad in body.chunks(4) {
        let v: [u8; 4] = std::array::from_fn(|i| quad.get(i).map_or(0, |&c| sextet(c)));
        let bytes = [
            (v[0] << 2) | (v[1] >> 4),
            (v[1] << 4) | (v[2] >> 2),
            (v[2] << 6) | v[3],
        ];
        let take = quad.len() - 1;
        raw[out..out + take].copy_from_slice(&bytes[..take]);
        out += take;
    }
    let Ok(decoded) = std::str::from_utf8(raw) else {
        return Some(false); // not UTF-8
    };
    let bytes = decoded.as_bytes();
    // Not printable (and no tab or line end): an ASCII byte decides it alone.
    let unprintable =
        |c: u8| c < 0x80 && !(0x20..0x7f).contains(&c) && !matches!(c, b'\t' | b'\r' | b'\n');
    if bytes.iter().any(|&c| unprintable(c)) {
        return Some(false);
    }
    let separated = bytes.iter().any(|c| b" ,.:;{}<>\n".contains(c));
    let letters = bytes.iter().filter(|c| c.is_ascii_alphabetic()).count();
    if decoded.is_ascii() {
        if credential_pair(strip_space(bytes)) {
            return Some(false);
        }
        return Some(letters >= bytes.len() / 2 && separated);
    }
    // Outside ASCII: decided only where no answer of Python's tables could
    // change it (no separator, or too few letters even if all the rest were).
    let chars = decoded.chars().count();
    let other = decoded.chars().filter(|c| !c.is_ascii()).count();
    if !separated || letters + other < chars / 2 {
        return Some(false);
    }
    None
}

/// `str.strip()` on ASCII: Python's white space off both ends.
fn strip_space(text: &[u8]) -> &[u8] {
    let start = text.iter().take_while(|&&c| is(c, SPACE)).count();
    let end = text.len()
        - text[start..]
            .iter()
            .rev()
            .take_while(|&&c| is(c, SPACE))
            .count();
    &text[start..end]
}

/// `_CREDENTIAL_PAIR` as a fullmatch: `[A-Za-z0-9._@+-]{1,128}:[^\s]{1,256}`
/// (the user runs to the first character outside its class, which must be ":").
fn credential_pair(text: &[u8]) -> bool {
    let user = run_end(text, 0, USER);
    if !(1..=128).contains(&user) || text.get(user) != Some(&b':') {
        return false;
    }
    let password = &text[user + 1..];
    (1..=256).contains(&password.len()) && !password.iter().any(|&c| is(c, SPACE))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(text: &str) -> Vec<(usize, usize)> {
        let mut spans = shape_spans(text.as_bytes(), true).expect("decided");
        spans.sort_unstable();
        spans.dedup();
        spans
    }

    #[test]
    fn ordinary_text_holds_no_shape() {
        let text = "The quarterly report for /usr/local/share/reports/2024/q3.pdf was sent \
                    to the basic team on Tuesday; QuarterlyReport2024Q3 is its id.";
        assert_eq!(spans(text), []);
        assert_eq!(spans(""), []);
    }

    #[test]
    fn each_family_is_found() {
        assert_eq!(spans("Authorization: Bearer abc123XYZ.def"), [(22, 35)]);
        assert_eq!(spans("token_type=Bearer expires_in=3600"), []);
        assert_eq!(spans("Digest username=x"), [(7, 17)]);
        assert_eq!(spans("see https://user:pa@ss@host/x"), [(17, 22)]);
        assert_eq!(spans("card 4111 1111 1111 1111 ok"), [(5, 24)]);
        assert_eq!(spans("card 4111 1111 1111 1112 ok"), []);
        assert_eq!(spans("-----BEGIN RSA PRIVATE KEY-----\nMIIE"), [(0, 36)]);
        let key = "u8jzPde0IgxLd/GncfBAepfJB/0Kh8oOOL8dKLzd";
        assert_eq!(spans(&format!("aws {key}")), [(4, 44)]);
    }

    #[test]
    fn base64_of_text_is_kept_and_outside_ascii_is_left_to_python() {
        // "The quick brown fox jumps" in base64: ordinary text.
        assert_eq!(spans("VGhlIHF1aWNrIGJyb3duIGZveCBqdW1wcw=="), []);
        assert_eq!(
            text_in_base64(b"VGhlIHF1aWNrIGJyb3duIGZveCBqdW1wcw=="),
            Some(true)
        );
        // "café crème, très bien" (UTF-8): Python's tables decide.
        assert_eq!(text_in_base64(b"Y2Fmw6kgY3LDqG1lLCB0csOocyBiaWVu"), None);
    }
}
