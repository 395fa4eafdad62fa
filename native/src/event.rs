//! One captured event becomes its event map: the compiled form of
//! `asgi_audit.record.events.build_event` and `format_timestamp`, and of
//! `asgi_audit.record.vocabulary` (`event_action`, `resource`).

use crate::json::{truthy, Map, Value};

/// The request context's fields, in the order they lead a line.
pub const CONTEXT_FIELDS: [&str; 11] = [
    "ip_address",
    "ip_address_rejected",
    "user_agent",
    "session_id",
    "request_id",
    "agent_id",
    "user_id",
    "request_path",
    "method",
    "trace_id",
    "span_id",
];

/// Keys the library owns (the header but `outcome`, and the integrity fields):
/// a caller's field of the same name goes under `details`.
const RESERVED: [&str; 13] = [
    "timestamp",
    "epoch_ms",
    "event_id",
    "event_type",
    "category",
    "schema_version",
    "stream",
    "seq",
    "mac",
    "prev_stream",
    "prev_seq",
    "prev_mac",
    "mac_key_id",
];

/// The newest moment the pipeline takes (nanoseconds): later ones, and earlier
/// than the epoch, go to the reference.
pub const MAX_TIME_NS: i128 = i64::MAX as i128;

/// What the request path captured (`RawEvent`), made of plain values.
#[derive(Clone, Debug)]
pub struct RawEvent<'a> {
    pub category: &'a str,
    pub event_type: &'a str,
    /// `raw.outcome`: None when the caller gave none.
    pub outcome: Option<Value<'a>>,
    /// Nanoseconds since the epoch, `0..=MAX_TIME_NS`.
    pub time_ns: i128,
    /// The context's values in [`CONTEXT_FIELDS`] order (None where None), or no context.
    /// Shared by the events of one request (read once per batch).
    pub context: Option<std::sync::Arc<Vec<Option<Value<'a>>>>>,
    /// The caller's fields, in order; `Value::Null` where the value is None.
    pub fields: Map<'a>,
}

/// ISO 8601 UTC with microseconds: `format_timestamp(time_ns)`.
pub fn format_timestamp(time_ns: i128) -> String {
    // The days fit an i64 (i128::MAX ns is under 2**61 days): 64-bit division.
    let seconds = time_ns.div_euclid(1_000_000_000);
    let micros = (time_ns.rem_euclid(1_000_000_000) / 1000) as i64;
    let days = seconds.div_euclid(86_400) as i64;
    let secs = seconds.rem_euclid(86_400) as i64;
    let (y, m, d) = civil_from_days(days);
    if !(0..=9999).contains(&y) {
        return format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}+00:00",
            y,
            m,
            d,
            secs / 3600,
            secs / 60 % 60,
            secs % 60,
            micros
        );
    }
    // YYYY-MM-DDTHH:MM:SS.ffffff+00:00, written digit by digit.
    let mut out = *b"0000-00-00T00:00:00.000000+00:00";
    let mut put = |at: usize, width: usize, mut n: i64| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(0, 4, y);
    put(5, 2, m);
    put(8, 2, d);
    put(11, 2, secs / 3600);
    put(14, 2, secs / 60 % 60);
    put(17, 2, secs % 60);
    put(20, 6, micros);
    std::str::from_utf8(&out).expect("ASCII").to_owned()
}

// Howard Hinnant's days_from_civil, inverted: the proleptic Gregorian date.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Python's `str.isspace` for one character.
fn py_isspace(c: char) -> bool {
    matches!(c, '\t'..='\r' | '\x1c'..='\x1f' | ' ') || (!c.is_ascii() && c.is_whitespace())
}

/// `build_event(raw, event_id)`: the header, the context, the caller's fields
/// (reserved names under `details`), the stack-trace rule, `event_action` and
/// `resource`.
pub fn build_event<'a>(raw: &RawEvent<'a>, event_id: &'a str) -> Map<'a> {
    let mut event = Map::with_capacity(8 + raw.fields.len() + 8);
    let header = [
        ("timestamp", Value::str(format_timestamp(raw.time_ns))),
        ("epoch_ms", Value::Int(raw.time_ns.div_euclid(1_000_000))),
        ("event_id", Value::str(event_id)),
        ("event_type", Value::str(raw.event_type)),
        ("category", Value::str(raw.category)),
        (
            "outcome",
            raw.outcome.clone().unwrap_or(Value::str("unknown")),
        ),
        ("schema_version", Value::Int(1)),
    ];
    for (key, value) in header {
        event.0.push((key.into(), value));
    }
    let fields = &raw.fields;
    if let Some(context) = &raw.context {
        for (name, value) in CONTEXT_FIELDS.iter().zip(context.iter()) {
            if matches!(fields.get(name), None | Some(Value::Null)) {
                if let Some(value) = value {
                    event.set(*name, value.clone());
                }
            }
        }
    }
    let mut extra = Map::new();
    for (name, value) in &fields.0 {
        if *value == Value::Null {
            continue;
        }
        if RESERVED.contains(&name.as_ref()) {
            extra.set(name.clone(), value.clone());
        } else {
            event.set(name.clone(), value.clone());
        }
    }
    if let Some(Value::Str(trace)) = event.get("stack_trace") {
        let stripped = trace.trim_matches(py_isspace);
        if stripped == "NoneType: None" || stripped.is_empty() {
            event.remove("stack_trace");
        }
    }
    if !extra.is_empty() {
        let details = match event.get("details") {
            Some(Value::Dict(details)) => {
                let mut merged = details.clone();
                for (k, v) in extra.0 {
                    merged.set(k, v);
                }
                merged
            }
            None => extra,
            Some(other) => {
                let mut wrapped = Map::with_capacity(1 + extra.len());
                wrapped.0.push(("value".into(), other.clone()));
                for (k, v) in extra.0 {
                    wrapped.set(k, v);
                }
                wrapped
            }
        };
        event.set("details", Value::Dict(details));
    }
    if !event.contains("event_action") {
        if let Some(action) = event_action(raw.event_type, raw.outcome.as_ref(), &event) {
            event.set("event_action", Value::str(action));
        }
    }
    if !event.contains("resource") {
        if let Some(affected) = resource(raw.event_type, &event) {
            event.set("resource", affected);
        }
    }
    event
}

const HTTP_TYPES: [&str; 3] = ["api_access", "websocket_connect", "websocket_close"];

/// `vocabulary.event_action`: the OWASP name of an event, where one fits.
pub fn event_action(
    event_type: &str,
    outcome: Option<&Value<'_>>,
    event: &Map<'_>,
) -> Option<&'static str> {
    if event_type == "login_attempt" {
        return match outcome {
            Some(Value::Str(outcome)) => match outcome.as_ref() {
                "success" => Some("authn_login_success"),
                "failed" => Some("authn_login_fail"),
                "rate_limited" => Some("excess_rate_limit_exceeded"),
                "blocked" => Some("authn_login_lock"),
                _ => None,
            },
            _ => None,
        };
    }
    if event_type == "data_access" {
        if let Some(Value::Str(outcome)) = outcome {
            if outcome.as_ref() == "denied" {
                return Some("authz_fail");
            }
        }
        return match event.get("action") {
            Some(Value::Str(action)) => match action.as_ref() {
                "read" | "export" => Some("sensitive_read"),
                "update" => Some("sensitive_update"),
                "delete" => Some("sensitive_delete"),
                _ => None,
            },
            _ => None,
        };
    }
    let by_type = match event_type {
        "session_created" => Some("session_created"),
        "session_renewed" => Some("session_renewed"),
        "session_expired" => Some("session_expired"),
        "session_use_after_expire" => Some("session_use_after_expire"),
        "injection_attempt" => Some("input_validation_fail"),
        "tool_path_blocked" => Some("authz_fail"),
        "audit_started" => Some("sys_monitor_enabled"),
        "audit_stopped" => Some("sys_monitor_disabled"),
        _ => None,
    };
    if by_type.is_some() {
        return by_type;
    }
    if HTTP_TYPES.contains(&event_type) {
        if let Some(Value::Str(decision)) = event.get("authz_decision") {
            if decision.as_ref() == "deny" {
                return Some("authz_fail");
            }
        }
        if let Some(Value::Int(status)) = event.get("status_code") {
            return match status {
                401 | 403 => Some("authz_fail"),
                429 => Some("excess_rate_limit_exceeded"),
                _ => None,
            };
        }
    }
    None
}

/// `vocabulary.resource`: what the event acted on, where it names it.
pub fn resource<'a>(event_type: &str, event: &Map<'a>) -> Option<Value<'a>> {
    let found = if HTTP_TYPES.contains(&event_type) {
        event.get("request_path")
    } else if event_type == "tool_path_blocked" {
        match event.get("blocked_path") {
            Some(path) if truthy(path) => Some(path),
            _ => event.get("tool_name"),
        }
    } else if event_type == "injection_attempt" {
        event.get("tool_name")
    } else if event_type == "login_attempt" || event_type == "logout" {
        event.get("user_id")
    } else if event_type == "data_access" {
        event.get("resource_type")
    } else {
        None
    };
    found.filter(|v| **v != Value::Null).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_iso_utc_with_microseconds() {
        assert_eq!(format_timestamp(0), "1970-01-01T00:00:00.000000+00:00");
        assert_eq!(
            format_timestamp(1_709_210_096_123_456_789),
            "2024-02-29T12:34:56.123456+00:00"
        );
        assert_eq!(
            format_timestamp(i64::MAX as i128),
            "2262-04-11T23:47:16.854775+00:00"
        );
    }

    #[test]
    fn reserved_fields_go_under_details() {
        let raw = RawEvent {
            category: "auth",
            event_type: "login_attempt",
            outcome: Some(Value::Str("failed".into())),
            time_ns: 0,
            context: None,
            fields: Map(vec![
                ("seq".into(), Value::Int(5)),
                ("details".into(), Value::Str("x".into())),
                ("user_id".into(), Value::Str("u".into())),
                ("stack_trace".into(), Value::Str(" NoneType: None\n".into())),
            ]),
        };
        let event = build_event(&raw, "id");
        let keys: Vec<&str> = event.0.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(
            keys,
            [
                "timestamp",
                "epoch_ms",
                "event_id",
                "event_type",
                "category",
                "outcome",
                "schema_version",
                "details",
                "user_id",
                "event_action",
                "resource"
            ]
        );
        let details = Map(vec![
            ("value".into(), Value::Str("x".into())),
            ("seq".into(), Value::Int(5)),
        ]);
        assert_eq!(event.get("details"), Some(&Value::Dict(details)));
    }
}
