//! Any event through the writer's pipeline: it never panics, and a line it gives
//! is one JSON object (serde_json reads it) ending in its only `\n`. (The Python
//! tests hold the lines to the reference byte for byte; this target looks for the
//! inputs that would crash the core.)

#![no_main]

use std::cell::RefCell;
use std::collections::HashMap;

use asgi_audit_native::event::{RawEvent, CONTEXT_FIELDS};
use asgi_audit_native::json::{Map, Value};
use asgi_audit_native::pipeline::{Caches, Config, Pipeline, Redact, Session, Stamp};
use asgi_audit_native::redact::Redaction;
use libfuzzer_sys::fuzz_target;

#[path = "parts.rs"]
mod parts;
use parts::parts;

const KEYS: [&str; 16] = [
    "password",
    "details",
    "session_id",
    "stack_trace",
    "status_code",
    "request_path",
    "tool_name",
    "blocked_path",
    "user_id",
    "seq",
    "outcome",
    "truncated",
    "truncated_fields",
    "resource",
    "event_action",
    "…",
];
const TYPES: [&str; 6] = [
    "login_attempt",
    "api_access",
    "tool_path_blocked",
    "injection_attempt",
    "logout",
    "x",
];

/// Reads values out of the fuzzer's bytes.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        let (&b, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        b
    }

    fn text(&mut self) -> String {
        let n = usize::from(self.byte() % 48);
        let take = n.min(self.0.len());
        let (head, rest) = self.0.split_at(take);
        self.0 = rest;
        let mut text = String::from_utf8_lossy(head).into_owned();
        if self.byte() % 8 == 0 {
            text = text.repeat(usize::from(self.byte()) * 8 + 1);
        }
        text
    }

    fn key(&mut self) -> String {
        let b = self.byte();
        if b % 3 == 0 {
            self.text()
        } else {
            KEYS[usize::from(b) % KEYS.len()].to_owned()
        }
    }

    fn value(&mut self, depth: u32) -> Value<'static> {
        match self.byte() % 9 {
            0 => Value::Null,
            1 => Value::Bool(self.byte() % 2 == 0),
            2 => Value::Int(i128::from(i64::from_le_bytes([self.byte(); 8])) * 3),
            3 => Value::Float(f64::from_bits(u64::from_le_bytes([
                self.byte(),
                self.byte(),
                self.byte(),
                self.byte(),
                self.byte(),
                self.byte(),
                self.byte(),
                self.byte(),
            ]))),
            4 if depth < 15 => {
                let n = self.byte() % 6;
                Value::List((0..n).map(|_| self.value(depth + 1)).collect())
            }
            5 if depth < 15 => Value::Dict(self.map(depth + 1)),
            _ => Value::str(self.text()),
        }
    }

    fn map(&mut self, depth: u32) -> Map<'static> {
        let mut map = Map::new();
        for _ in 0..self.byte() % 8 {
            let key = self.key();
            let value = self.value(depth);
            map.set(key, value);
        }
        map
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let flags = input.byte();
    let (engine, keys) = parts();
    let mut field_caps = HashMap::new();
    field_caps.insert("raw_input".to_owned(), 16 + usize::from(input.byte()));
    let config = Config {
        field_caps,
        default_chars: 16 + usize::from(input.byte()) * 4,
        max_event_bytes: 1024 + usize::from(input.byte()) * 64,
        max_items: 1 + usize::from(input.byte() % 8),
        session: match flags % 3 {
            0 => Session::Hash(b"key".to_vec()),
            1 => Session::Raw,
            _ => Session::Omit,
        },
        seal_bytes: 98,
    };
    let mut caches = Caches::default();
    let pipeline = Pipeline {
        caches: RefCell::new(&mut caches),
        config: &config,
        redact: (flags & 4 == 0).then(|| Redact {
            redaction: Redaction { engine, keys },
            mask: "***REDACTED***",
        }),
    };
    let context = (flags & 8 == 0).then(|| {
        std::sync::Arc::new(
            CONTEXT_FIELDS
                .iter()
                .map(|_| (input.byte() % 2 == 0).then(|| input.value(0)))
                .collect(),
        )
    });
    let raw = RawEvent {
        category: "auth".into(),
        event_type: TYPES[usize::from(input.byte()) % TYPES.len()].into(),
        outcome: (flags & 16 == 0).then(|| input.value(0)),
        time_ns: i128::from(u64::from_le_bytes([input.byte(); 8]) >> 1),
        context,
        fields: input.map(0),
    };
    let stamp = Stamp {
        stream: "0123456789abcdef".into(),
        base_seq: 0,
        first: Map(vec![("mac_key_id".into(), Value::str("k"))]),
    };
    let seq = i128::from(input.byte() % 3);
    let stamped = (flags & 32 == 0).then_some((&stamp, seq));
    if let Ok(line) = pipeline.encode(&raw, "018bcfe5-687b-774f-8296-b8ca4f250295", stamped) {
        assert_eq!(line.last(), Some(&b'\n'));
        assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
        let parsed: serde_json::Value = serde_json::from_slice(&line).expect("valid JSON");
        assert!(parsed.is_object());
        assert!(line.len() <= config.max_event_bytes);
    }
});
