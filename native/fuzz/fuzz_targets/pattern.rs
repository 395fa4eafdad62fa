//! Any pattern (the input's first line; the first byte also chooses the
//! boundary): the check refuses or accepts it without panicking, and a pattern
//! it accepts scans the rest of the input as the slow implementation does.

#![no_main]

use asgi_audit_native::oracle::Oracle;
use asgi_audit_native::scan::{Engine, RuleSpec};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let (pattern, text) = input.split_once('\n').unwrap_or((input, ""));
    if pattern.len() > 200 {
        return; // large repetitions only cost time
    }
    let rules = [RuleSpec {
        pattern: pattern.into(),
        keywords: vec![],
        entropy: if text.len() % 3 == 0 { 0.0 } else { 1.0 },
        boundary: data.first().is_some_and(|b| b % 2 == 0),
    }];
    let Ok(engine) = Engine::new(&rules) else {
        return;
    };
    assert_eq!(engine.hits(text), Oracle::new(&rules).hits(text));
});
