//! The values of an event and their JSON line: the compiled form of
//! `asgi_audit.record.encoding.encode_line`.
//!
//! A [`Value`] is what the pipeline holds of a caller's plain JSON value; a
//! [`Map`] keeps its keys in insertion order, as a Python dict does. The line is
//! written as orjson writes it (`"`, `\`, `\b \t \n \f \r` escaped by name, the
//! other controls as `\u00XX` in lower-case hex, everything else raw UTF-8, floats
//! in their shortest form, NaN and the infinities as `null`), with U+2028, U+2029
//! and U+0085 escaped as `encode_line` does afterwards, and one `\n` at the end.

use std::borrow::Cow;

/// One JSON value. `Int` holds the reference's range (`-2**63` to `2**64 - 1`).
///
/// Text is borrowed where it can be (the caller's strings, read from Python
/// without a copy, and the library's own names), owned where the pipeline
/// makes it (a timestamp, a mask, a cut).
#[derive(Clone, Debug, PartialEq)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(Cow<'a, str>),
    List(Vec<Value<'a>>),
    Dict(Map<'a>),
}

impl<'a> Value<'a> {
    /// A string value.
    pub fn str(text: impl Into<Cow<'a, str>>) -> Self {
        Value::Str(text.into())
    }
}

/// The smallest and largest integers orjson writes as numbers.
pub const INT_MIN: i128 = i64::MIN as i128;
pub const INT_MAX: i128 = u64::MAX as i128;

/// An object: keys in insertion order, each once.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Map<'a>(pub Vec<(Cow<'a, str>, Value<'a>)>);

impl<'a> Map<'a> {
    pub fn new() -> Self {
        Map(Vec::new())
    }

    pub fn with_capacity(n: usize) -> Self {
        Map(Vec::with_capacity(n))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn position(&self, key: &str) -> Option<usize> {
        self.0.iter().position(|(k, _)| k == key)
    }

    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// `d[key] = value`: in place when the key is there, else at the end.
    pub fn set(&mut self, key: impl Into<Cow<'a, str>> + AsRef<str>, value: Value<'a>) {
        match self.position(key.as_ref()) {
            Some(i) => self.0[i].1 = value,
            None => self.0.push((key.into(), value)),
        }
    }

    /// `d.pop(key, None)`.
    pub fn remove(&mut self, key: &str) -> Option<Value<'a>> {
        self.position(key).map(|i| self.0.remove(i).1)
    }
}

/// Python's truth value of a JSON value.
pub fn truthy(value: &Value<'_>) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Int(i) => *i != 0,
        Value::Float(f) => *f != 0.0,
        Value::Str(s) => !s.is_empty(),
        Value::List(items) => !items.is_empty(),
        Value::Dict(map) => !map.is_empty(),
    }
}

/// `encode_line(event)`: one JSON object and its `\n`.
pub fn encode_line(event: &Map<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    write_map(&mut out, event);
    out.push(b'\n');
    out
}

/// The JSON of one value, as orjson writes it (without the line's escapes'
/// difference: U+2028, U+2029 and U+0085 are escaped here too).
pub fn write_value(out: &mut Vec<u8>, value: &Value<'_>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Int(i) => write_int(out, *i),
        Value::Float(f) => write_float(out, *f),
        Value::Str(s) => write_str(out, s),
        Value::List(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::Dict(map) => write_map(out, map),
    }
}

/// An integer in decimal, without an allocation (in `u64` arithmetic: every
/// integer of the reference's range has a magnitude that fits).
fn write_int(out: &mut Vec<u8>, value: i128) {
    match u64::try_from(value.unsigned_abs()) {
        Ok(magnitude) => write_u64(out, value < 0, magnitude),
        Err(_) => out.extend_from_slice(value.to_string().as_bytes()),
    }
}

fn write_map(out: &mut Vec<u8>, map: &Map<'_>) {
    out.push(b'{');
    for (i, (key, value)) in map.0.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, key);
        out.push(b':');
        write_value(out, value);
    }
    out.push(b'}');
}

fn write_u64(out: &mut Vec<u8>, negative: bool, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if negative {
        out.push(b'-');
    }
    out.extend_from_slice(&digits[at..]);
}

/// orjson's float: the shortest form that reads back alike; `null` when not finite.
pub fn write_float(out: &mut Vec<u8>, f: f64) {
    if f.is_finite() {
        let mut buffer = zmij::Buffer::new();
        out.extend_from_slice(buffer.format_finite(f).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// A JSON string: orjson's escapes, then `encode_line`'s three.
/// The bytes that may start an escape: controls, `"`, `\`, and the lead bytes
/// of U+0085 (`C2`) and U+2028/U+2029 (`E2`).
const MAY_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table[0xc2] = true;
    table[0xe2] = true;
    table
};

pub fn write_str(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        // The run that needs no escape, found by table.
        match bytes[i..].iter().position(|&b| MAY_ESCAPE[usize::from(b)]) {
            Some(at) => i += at,
            None => break,
        }
        let b = bytes[i];
        let escape: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0x08 => Some(b"\\b"),
            0x0c => Some(b"\\f"),
            0x00..=0x1f => None,
            0xc2 if bytes.get(i + 1) == Some(&0x85) => Some(b"\\u0085"),
            0xe2 if bytes.get(i + 1) == Some(&0x80) && matches!(bytes.get(i + 2), Some(0xa8)) => {
                Some(b"\\u2028")
            }
            0xe2 if bytes.get(i + 1) == Some(&0x80) && matches!(bytes.get(i + 2), Some(0xa9)) => {
                Some(b"\\u2029")
            }
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&bytes[start..i]);
        match escape {
            Some(seq) => {
                out.extend_from_slice(seq);
                // The escaped character's own bytes: 1, or 2 for U+0085, 3 for U+2028/9.
                i += match b {
                    0xc2 => 2,
                    0xe2 => 3,
                    _ => 1,
                };
            }
            None => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 15) as usize]);
                i += 1;
            }
        }
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(value: &Value<'_>) -> String {
        let mut out = Vec::new();
        write_value(&mut out, value);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_are_escaped_as_orjson_and_encode_line_do() {
        let text = "a\"b\\c\n\r\t\u{8}\u{c}\u{1}\u{1f}\u{7f}é\u{2028}\u{2029}\u{85}\u{2027}😀";
        assert_eq!(
            json(&Value::Str(text.into())),
            "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\u{7f}é\\u2028\\u2029\\u0085\u{2027}😀\""
        );
    }

    #[test]
    fn numbers_are_written_as_orjson_writes_them() {
        assert_eq!(json(&Value::Float(1e16)), "1e+16");
        assert_eq!(json(&Value::Float(1e-5)), "0.00001");
        assert_eq!(json(&Value::Float(-0.0)), "-0.0");
        assert_eq!(json(&Value::Float(f64::NAN)), "null");
        assert_eq!(json(&Value::Int(INT_MAX)), "18446744073709551615");
        assert_eq!(json(&Value::Int(INT_MIN)), "-9223372036854775808");
    }

    #[test]
    fn a_map_keeps_its_order_and_replaces_in_place() {
        let mut map = Map::new();
        map.set("b", Value::Int(1));
        map.set("a", Value::Null);
        map.set("b", Value::Bool(true));
        assert_eq!(encode_line(&map), b"{\"b\":true,\"a\":null}\n");
        assert_eq!(map.remove("b"), Some(Value::Bool(true)));
        assert!(!map.contains("b"));
    }
}
