//! Any ASCII text through one string's whole redaction: it never panics, the
//! spans are sorted, apart and inside the text, each covers whole tokens, and the
//! masked text is the text spliced at them. (The Python tests hold the spans to
//! the reference; this target looks for the inputs that would crash the core.)

#![no_main]

use asgi_audit_native::keys::Keys;
use asgi_audit_native::redact::Redaction;
use asgi_audit_native::scan::{Engine, RuleSpec};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn parts() -> &'static (Engine, Keys) {
    static PARTS: OnceLock<(Engine, Keys)> = OnceLock::new();
    PARTS.get_or_init(|| {
        let rules = [RuleSpec {
            pattern: "ghp_[A-Za-z0-9]{36}".into(),
            keywords: vec!["ghp_".into()],
            entropy: 3.0,
            boundary: true,
        }];
        let words = ["password", "token", "secret", "apikey", "auth", "session"];
        (
            Engine::new(&rules).expect("a valid rule"),
            Keys::new(words.map(String::from)),
        )
    })
}

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
