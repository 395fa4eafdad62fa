//! The engine and the key decision the redaction targets share (`#[path]`-included:
//! not a target of its own).

use std::sync::OnceLock;

use asgi_audit_native::keys::Keys;
use asgi_audit_native::scan::{Engine, RuleSpec};

/// One token rule and the usual secret key words, compiled once per process.
pub fn parts() -> &'static (Engine, Keys) {
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
