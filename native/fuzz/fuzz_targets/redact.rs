//! Any ASCII text through one string's whole redaction: it never panics, the
//! spans are sorted, apart and inside the text, each covers whole tokens, and the
//! masked text is the text spliced at them. (The Python tests hold the spans to
//! the reference; this target looks for the inputs that would crash the core.)

#![no_main]

use asgi_audit_native::redact::Redaction;
use libfuzzer_sys::fuzz_target;

#[path = "parts.rs"]
mod parts;
use parts::parts;

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

fuzz_target!(|data: &[u8]| {
    let text: String = data.iter().map(|&b| char::from(b & 0x7f)).collect();
    let (engine, keys) = parts();
    let redaction = Redaction { engine, keys };
    let Some(spans) = redaction.spans(&text) else {
        return;
    };
    let bytes = text.as_bytes();
    let mut last = None;
    for &(s, e) in &spans {
        assert!(s < e && e <= bytes.len());
        if let Some(end) = last {
            assert!(s > end, "spans overlap or touch");
        }
        last = Some(e);
        assert!(e == bytes.len() || !is_token(bytes[e]));
    }
    let mut expected = String::new();
    let mut pos = 0;
    for &(s, e) in &spans {
        expected.push_str(&text[pos..s]);
        expected.push('*');
        pos = e;
    }
    expected.push_str(&text[pos..]);
    let masked = redaction.redact(&text, "*").expect("decided above");
    assert_eq!(masked.unwrap_or_else(|| text.clone()), expected);
});
