//! Secrets by their key in free text: the compiled form of
//! `asgi_audit.record.pairs` (`pair_spans`, `flag_spans`), for ASCII text.
//!
//! The reference finds these with Python regexes that use back-references and
//! lookaround; each is written out here as the steps a backtracking engine
//! takes on it, in the same order, so the first match it accepts is the one
//! Python's `re` accepts.

/// Python's `\s` on an ASCII `str`: `[ \t\n\r\x0b\x0c\x1c-\x1f]`.
pub fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | 0x1c..=0x1f)
}

/// `\w` on ASCII: `[A-Za-z0-9_]`.
pub fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn is_key_char(b: u8) -> bool {
    is_word(b) || b == b'.' || b == b'-'
}

fn is_key_first(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn run(text: &[u8], from: usize, test: impl Fn(u8) -> bool) -> usize {
    text[from.min(text.len())..]
        .iter()
        .take_while(|&&b| test(b))
        .count()
}

fn run_left(text: &[u8], end: usize, test: impl Fn(u8) -> bool) -> usize {
    text[..end].iter().rev().take_while(|&&b| test(b)).count()
}

/// The spans of the values of `text`'s pairs whose key `is_secret`, appended to
/// `out`: `pairs.pair_spans`.
pub fn pair_spans(text: &[u8], is_secret: &dyn Fn(&[u8]) -> bool, out: &mut Vec<(usize, usize)>) {
    let mut pos = 0;
    for i in 0..text.len() {
        let sep = text[i];
        if (sep != b':' && sep != b'=') || i < pos {
            continue;
        }
        let Some((first, last)) = key_before(text, i) else {
            continue;
        };
        if !is_secret(&text[first..last]) {
            continue;
        }
        let Some(value) = value_after(text, i + 1) else {
            continue;
        };
        let (start, mut end) = (value.start, value.end);
        if value.escape > 0 {
            // JSON inside JSON: the value's own escaped quotes stay.
            out.push((start + value.escape + 1, end - value.escape - 1));
        } else if text[start] == b'"' || text[start] == b'\'' {
            out.push((start + 1, end - 1));
        } else {
            if sep == b'=' {
                // After "=" a bare value ends at whitespace.
                if let Some(space) = text[start..end].iter().position(|&b| is_space(b)) {
                    end = start + space;
                }
            }
            if !is_placeholder(&text[start..end]) {
                out.push((start, end));
            }
        }
        pos = end;
    }
}

/// The key left of the separator at `sep`: `_KEY_BACKWARDS` matched on the
/// reversed text, as `(first, end)` in `text`.
fn key_before(text: &[u8], sep: usize) -> Option<(usize, usize)> {
    // Blanks: only taking them all can succeed (a blank is no quote, backslash
    // or key character).
    let j = sep - run_left(text, sep, |b| b == b' ' || b == b'\t');
    // The closing quote (with its escaping backslashes), in the order the
    // backtracking engine tries them: the quote with the most backslashes
    // first, then fewer, then no quote.
    let mut options: [(usize, usize); 2] = [(0, 0); 2];
    let quoted = j > 0 && (text[j - 1] == b'"' || text[j - 1] == b'\'');
    if quoted {
        options[0] = (1, run_left(text, j - 1, |b| b == b'\\'));
        options[1] = (0, 0);
    } else {
        options[0] = (0, run_left(text, j, |b| b == b'\\'));
    }
    let count = if quoted { 2 } else { 1 };
    for &(quote, most) in &options[..count] {
        for slashes in (0..=most).rev() {
            let q = quote + slashes;
            if let Some(found) = key_with(text, j, q) {
                return Some(found);
            }
        }
    }
    None
}

/// The key whose closing `q` characters end at `j`: the longest first (up to
/// 64 characters), then shorter; the same quote string before it, and no word
/// character before that.
fn key_with(text: &[u8], j: usize, q: usize) -> Option<(usize, usize)> {
    let end = j - q;
    let available = run_left(text, end, is_key_char);
    if available == 0 {
        return None;
    }
    let closing = &text[end..j];
    for m in (0..available.min(64)).rev() {
        let first = end - 1 - m;
        if !is_key_first(text[first]) {
            continue;
        }
        // The same quote string again, read leftwards: in the text, the
        // backslashes and then the quote, just before the key.
        if first < q {
            continue;
        }
        // Read leftwards, the closing quote string is the quote and then its
        // backslashes; the same string read leftwards before the key is, in
        // the text, the same bytes in the same order (`\"key\"`).
        if text[first - q..first] != *closing {
            continue;
        }
        if first - q > 0 && is_word(text[first - q - 1]) {
            continue;
        }
        return Some((first, end));
    }
    None
}

struct Value {
    start: usize,
    end: usize,
    /// The escaping backslashes of a quoted value inside a JSON string.
    escape: usize,
}

/// `_VALUE` matched at `at`: the value's span, after the blanks.
fn value_after(text: &[u8], at: usize) -> Option<Value> {
    let size = text.len();
    let p = at + run(text, at, |b| b == b' ' || b == b'\t');
    if p >= size {
        return None;
    }
    let first = text[p];
    if first == b'\\' {
        // `(\\+)".*?(?<!\\)\1"`: the shortest run up to the same backslashes
        // and a quote, not on a further backslash, within the line.
        let slashes = run(text, p, |b| b == b'\\');
        if p + slashes < size && text[p + slashes] == b'"' {
            let mut x = p + slashes + 1;
            loop {
                if text[x - 1] != b'\\'
                    && x + slashes < size
                    && text[x..x + slashes].iter().all(|&b| b == b'\\')
                    && text[x + slashes] == b'"'
                {
                    return Some(Value {
                        start: p,
                        end: x + slashes + 1,
                        escape: slashes,
                    });
                }
                if x >= size || text[x] == b'\n' {
                    break;
                }
                x += 1;
            }
        }
    } else if first == b'"' || first == b'\'' {
        // `"(?:[^"\\]|\\.)*"`: up to the first unescaped quote; an escape of a
        // line end (or of nothing) stops it.
        let mut k = p + 1;
        while k < size {
            match text[k] {
                b if b == first => {
                    return Some(Value {
                        start: p,
                        end: k + 1,
                        escape: 0,
                    })
                }
                b'\\' if k + 1 < size && text[k + 1] != b'\n' => k += 2,
                b'\\' => return None,
                _ => k += 1,
            }
        }
        return None;
    }
    if is_space(first) || matches!(first, b'&' | b',' | b';' | b'"' | b'\'' | b'}' | b']') {
        return None;
    }
    let end = p
        + 1
        + run(text, p + 1, |b| {
            !matches!(
                b,
                b'\r' | b'\n' | b'&' | b',' | b';' | b'"' | b'\'' | b'}' | b']'
            )
        });
    Some(Value {
        start: p,
        end,
        escape: 0,
    })
}

/// A query's placeholder, not a value: `$1`, `?`, `%s`, `%(name)s`, `:name`,
/// `{name}` (`pairs._PLACEHOLDER`, the whole of `value`).
fn is_placeholder(value: &[u8]) -> bool {
    let n = value.len();
    match value {
        [b'$', digits @ ..] => {
            (1..=3).contains(&digits.len()) && digits.iter().all(u8::is_ascii_digit)
        }
        b"?" | b"%s" => true,
        [b'%', b'(', name @ .., b')', b's'] => {
            !name.is_empty() && is_key_first(name[0]) && name.iter().all(|&b| is_word(b))
        }
        [b':', name @ ..] => {
            !name.is_empty() && is_key_first(name[0]) && name.iter().all(|&b| is_word(b))
        }
        [b'{', .., b'}'] if n >= 2 => value[1..n - 1].iter().all(|&b| is_word(b)),
        _ => false,
    }
}

/// Whether `text` can hold a flag: a `-` at the start or after a character that
/// is neither a word character nor `-` (`pairs.has_flag`).
pub fn has_flag(text: &[u8]) -> bool {
    text.iter()
        .enumerate()
        .any(|(i, &b)| b == b'-' && (i == 0 || !(is_word(text[i - 1]) || text[i - 1] == b'-')))
}

/// The spans of the values of `text`'s command-line flags whose name
/// `is_secret`, appended to `out`: `pairs.flag_spans`.
pub fn flag_spans(text: &[u8], is_secret: &dyn Fn(&[u8]) -> bool, out: &mut Vec<(usize, usize)>) {
    let size = text.len();
    let mut from = 0;
    for p in 0..size {
        if p < from || text[p] != b'-' || (p > 0 && (is_word(text[p - 1]) || text[p - 1] == b'-')) {
            continue;
        }
        // `--?` takes both dashes when there are two: one dash leaves a key
        // starting with "-", which cannot match.
        let key = if p + 1 < size && text[p + 1] == b'-' {
            p + 2
        } else {
            p + 1
        };
        if key >= size || !text[key].is_ascii_alphabetic() {
            continue;
        }
        // The name: at most 64 characters, and all of its run (a shorter
        // name would be followed by a name character, not a blank).
        let name = run(text, key, |b| is_word(b) || b == b'-');
        if name > 64 {
            continue;
        }
        let blanks = run(text, key + name, is_space);
        let value = key + name + blanks;
        if blanks == 0 || value >= size || text[value] == b'-' {
            continue;
        }
        let end = value + run(text, value, |b| !is_space(b));
        if is_secret(&text[key..key + name]) {
            out.push((value, end));
        }
        from = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(key: &[u8]) -> bool {
        key.to_ascii_lowercase().ends_with(b"password")
    }

    fn pairs(text: &str) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        pair_spans(text.as_bytes(), &secret, &mut out);
        out
    }

    #[test]
    fn pairs_of_every_form() {
        assert_eq!(pairs("password=hunter2 x"), [(9, 16)]);
        assert_eq!(pairs("a: 'b', password: \"a b\""), [(19, 22)]);
        assert_eq!(pairs(r#"{\"password\": \"x y\"}"#), [(17, 20)]);
        assert_eq!(pairs("next=/login?password=x&y=1"), [(21, 22)]);
        assert!(pairs("password = $1").is_empty());
        assert!(pairs("password = %(pw)s").is_empty());
    }

    #[test]
    fn flags() {
        let mut out = Vec::new();
        flag_spans(b"mysql --password s3cr3t -u root", &secret, &mut out);
        assert_eq!(out, [(17, 23)]);
        assert!(has_flag(b"-p x"));
        assert!(!has_flag(b"a-b"));
    }
}
