//! The writer's per-event pipeline: the compiled form of
//! `asgi_audit.record.pipeline.Pipeline.build` and `encode` (native output), for
//! a whole batch.
//!
//! Each event is built ([`crate::event`]), its session id hashed, each field
//! redacted and capped as the reference does (a nested value as
//! `record.nested.redact_capped`), the cuts marked, the chain's fields stamped and
//! the line encoded ([`crate::json`]). Where only the reference can decide (text
//! outside ASCII that redaction would read, a key outside ASCII, a redaction the
//! core refuses, nesting past the depth limit, a line over the size cap, which
//! the reference shrinks) the event is given back as [`Fallback`].

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::event::{build_event, RawEvent};
use crate::json::{encode_line, Map, Value};
use crate::keys::Keys;
use crate::redact::Redaction;

/// The reference must encode this event.
#[derive(Debug, PartialEq, Eq)]
pub struct Fallback;

type Step<T> = Result<T, Fallback>;

/// How session ids are stored.
pub enum Session {
    /// `h:` and 32 hex digits of HMAC-SHA256 under the key.
    Hash(Vec<u8>),
    Raw,
    Omit,
}

/// The caps and options of a `Pipeline`.
pub struct Config {
    pub field_caps: HashMap<String, usize>,
    pub default_chars: usize,
    pub max_event_bytes: usize,
    pub max_items: usize,
    pub session: Session,
    /// The most bytes sealing adds to a line (`SEAL_BYTES`).
    pub seal_bytes: usize,
}

/// The redaction of a deployment: the engine, the secret words, the mask.
pub struct Redact<'a> {
    pub redaction: Redaction<'a>,
    pub mask: &'a str,
}

impl Redact<'_> {
    fn keys(&self) -> &Keys {
        self.redaction.keys
    }
}

/// What `Chain.stamp` adds to a stream's lines: the stream id, and on its
/// first line the fields naming the previous stream and the key.
pub struct Stamp<'a> {
    pub stream: &'a str,
    /// The stream's last `seq` before the batch.
    pub base_seq: i128,
    pub first: Map<'a>,
}

const GENERATED: [&str; 6] = [
    "timestamp",
    "epoch_ms",
    "event_id",
    "category",
    "schema_version",
    "session_id",
];
const TEXT_ONLY: [&str; 3] = ["event_type", "outcome", "request_id"];
/// `record.nested`'s depth limit.
const DEPTH: i32 = 12;

/// The number of code points of `text`.
fn chars(text: &str) -> usize {
    if text.is_ascii() {
        text.len()
    } else {
        text.chars().count()
    }
}

/// `encoding.truncate`: the first `keep` code points and the marker.
pub fn truncate(text: &str, keep: usize) -> String {
    let dropped = chars(text) - keep;
    let end = text.char_indices().nth(keep).map_or(text.len(), |(i, _)| i);
    format!("{}…[truncated {} chars]", &text[..end], dropped)
}

/// The most entries each cache holds; a full cache is emptied and starts again.
const CACHE_SIZE: usize = 4096;
/// The longest text remembered as clean (`redaction._CLEAN_CACHE_CHARS`).
const CLEAN_CHARS: usize = 512;

/// What a pipeline remembers from batch to batch, as the reference does:
/// texts that held no secret, key decisions, hashed session ids. Each is a
/// pure function of its input, so an answer from a cache is the answer; only
/// clean texts are kept, so no cache keeps a secret alive. (The hash is std's
/// keyed SipHash: a client cannot choose texts that collide.)
#[derive(Default)]
pub struct Caches {
    clean: HashSet<String>,
    keys: HashMap<String, bool>,
    sessions: HashMap<String, String>,
}

/// One batch's work: the configuration, the redaction and the caches, borrowed.
pub struct Pipeline<'a> {
    pub config: &'a Config,
    pub redact: Option<Redact<'a>>,
    pub caches: RefCell<&'a mut Caches>,
}

impl Pipeline<'_> {
    /// The key decision, remembered.
    fn is_secret(&self, r: &Redact, key: &str) -> bool {
        if let Some(&known) = self.caches.borrow().keys.get(key) {
            return known;
        }
        let decided = r.keys().is_secret(key.as_bytes());
        let keys = &mut self.caches.borrow_mut().keys;
        if keys.len() >= CACHE_SIZE {
            keys.clear();
        }
        keys.insert(key.to_owned(), decided);
        decided
    }

    /// The stored form of a session id, remembered.
    fn session_hash(&self, key: &[u8], sid: &str) -> String {
        if let Some(known) = self.caches.borrow().sessions.get(sid) {
            return known.clone();
        }
        let hashed = hash_session_id(key, sid);
        let sessions = &mut self.caches.borrow_mut().sessions;
        if sessions.len() >= CACHE_SIZE {
            sessions.clear();
        }
        sessions.insert(sid.to_owned(), hashed.clone());
        hashed
    }

    /// The unsealed line of one event, stamped with `stamp` at `seq`.
    pub fn encode<'a>(
        &self,
        raw: &RawEvent<'a>,
        event_id: &'a str,
        stamp: Option<(&Stamp<'a>, i128)>,
    ) -> Step<Vec<u8>> {
        let mut event = self.build(raw, event_id)?;
        let mut limit = self.config.max_event_bytes;
        if let Some((stamp, seq)) = stamp {
            if seq == 1 {
                for (key, value) in &stamp.first.0 {
                    event.set(key.clone(), value.clone());
                }
            }
            event.set("stream", Value::str(stamp.stream));
            event.set("seq", Value::Int(seq));
            limit = limit.saturating_sub(self.config.seal_bytes);
        }
        let line = encode_line(&event);
        if line.len() > limit {
            return Err(Fallback); // the reference's `Caps.fit` shrinks it
        }
        Ok(line)
    }

    /// `Pipeline.build`: the redacted, capped event map.
    pub fn build<'a>(&self, raw: &RawEvent<'a>, event_id: &'a str) -> Step<Map<'a>> {
        let mut event = build_event(raw, event_id);
        if let Some(sid) = event.get("session_id") {
            match &self.config.session {
                Session::Hash(key) => {
                    let Value::Str(sid) = sid else {
                        return Err(Fallback); // str() of another type: the reference
                    };
                    let hashed = self.session_hash(key, sid);
                    event.set("session_id", Value::str(hashed));
                }
                Session::Omit => {
                    event.remove("session_id");
                }
                Session::Raw => {}
            }
        }
        let mut cut: Vec<(Cow<'a, str>, i128)> = Vec::new();
        for i in 0..event.0.len() {
            let key = event.0[i].0.as_ref();
            if GENERATED.contains(&key) {
                continue;
            }
            if self.redact.is_some() && !key.is_ascii() {
                return Err(Fallback); // the key decision outside ASCII is the reference's
            }
            let value = std::mem::replace(&mut event.0[i].1, Value::Null);
            let key = event.0[i].0.as_ref();
            let (value, size) = self.field(key, value)?;
            if let Some(size) = size {
                cut.push((event.0[i].0.clone(), size));
            }
            event.0[i].1 = value;
        }
        if !cut.is_empty() {
            mark_cuts(&mut event, &cut);
        }
        Ok(event)
    }

    /// One top-level field: the value, and the cut to mark (a length, or -1).
    fn field<'a>(&self, key: &str, value: Value<'a>) -> Step<(Value<'a>, Option<i128>)> {
        let secret = |r: &Redact| !TEXT_ONLY.contains(&key) && self.is_secret(r, key);
        let text = match value {
            Value::Bool(_) | Value::Int(_) | Value::Float(_) => {
                return Ok(match &self.redact {
                    Some(r) if secret(r) => (Value::str(r.mask.to_owned()), None),
                    _ => (value, None),
                });
            }
            Value::Null => return Ok((Value::Null, None)),
            Value::Str(text) => match &self.redact {
                Some(r) if secret(r) => Cow::Owned(r.mask.to_owned()),
                Some(_) => self.text(text)?,
                None => text,
            },
            Value::List(_) | Value::Dict(_) => match &self.redact {
                Some(r) if self.is_secret(r, key) => Cow::Owned(r.mask.to_owned()),
                _ => {
                    let (value, changed) = self.walk(value, DEPTH)?;
                    return Ok((value, changed.then_some(-1)));
                }
            },
        };
        let cap = self
            .config
            .field_caps
            .get(key)
            .copied()
            .unwrap_or(self.config.default_chars);
        let size = chars(&text);
        if size > cap {
            return Ok((Value::str(truncate(&text, cap)), Some(size as i128)));
        }
        Ok((Value::Str(text), None))
    }

    /// `Redactor.redact_text`, for text the core can decide.
    fn text<'a>(&self, text: Cow<'a, str>) -> Step<Cow<'a, str>> {
        let Some(r) = &self.redact else {
            return Ok(text);
        };
        if text.len() < 4 || (!text.is_ascii() && text.chars().count() < 4) {
            return Ok(text);
        }
        if !text.is_ascii() {
            return Err(Fallback);
        }
        if self.caches.borrow().clean.contains(text.as_ref()) {
            return Ok(text);
        }
        match r.redaction.redact(&text, r.mask) {
            None => Err(Fallback),
            Some(None) => {
                if text.len() <= CLEAN_CHARS {
                    let clean = &mut self.caches.borrow_mut().clean;
                    if clean.len() >= CACHE_SIZE {
                        clean.clear();
                    }
                    clean.insert(text.clone().into_owned());
                }
                Ok(text)
            }
            Some(Some(masked)) => Ok(Cow::Owned(masked)),
        }
    }

    fn capped<'a>(&self, text: Cow<'a, str>) -> (Value<'a>, bool) {
        let cap = self.config.default_chars;
        if chars(&text) > cap {
            (Value::str(truncate(&text, cap)), true)
        } else {
            (Value::Str(text), false)
        }
    }

    /// `record.nested.redact_capped` (with a redactor) or `Caps.nested` (without).
    fn walk<'a>(&self, value: Value<'a>, depth: i32) -> Step<(Value<'a>, bool)> {
        match value {
            Value::Str(text) => Ok(self.capped(self.text(text)?)),
            Value::List(_) | Value::Dict(_) if depth <= 0 => Err(Fallback),
            Value::List(items) => {
                let limit = self.config.max_items;
                let size = items.len();
                let mut changed = size > limit;
                let mut out = Vec::with_capacity(size.min(limit) + 1);
                for item in items.into_iter().take(limit) {
                    let (item, c) = self.walk(item, depth - 1)?;
                    out.push(item);
                    changed |= c;
                }
                if size > limit {
                    out.push(Value::str(format!("[{} more items]", size - limit)));
                }
                Ok((Value::List(out), changed))
            }
            Value::Dict(map) => match &self.redact {
                Some(r) => self.redacted_dict(r, map, depth),
                None => self.capped_dict(map, depth),
            },
            other => Ok((other, false)),
        }
    }

    fn redacted_dict<'a>(&self, r: &Redact, map: Map<'a>, depth: i32) -> Step<(Value<'a>, bool)> {
        let mut out: Vec<(Cow<'a, str>, Value<'a>, bool)> = Vec::with_capacity(map.len());
        let mut index: HashMap<Cow<'a, str>, usize> = HashMap::new();
        for (key, value) in map.0 {
            if !key.is_ascii() {
                return Err(Fallback);
            }
            let (item, c) = if self.is_secret(r, &key) {
                match value {
                    Value::Null => (Value::Null, false),
                    _ => self.capped(Cow::Owned(r.mask.to_owned())),
                }
            } else {
                self.walk(value, depth - 1)?
            };
            let name = self.text(key)?;
            // Two keys that redact alike: the later value, at the earlier place.
            match index.get(&name) {
                Some(&at) => {
                    out[at].1 = item;
                    out[at].2 = c;
                }
                None => {
                    index.insert(name.clone(), out.len());
                    out.push((name, item, c));
                }
            }
        }
        let limit = self.config.max_items;
        let size = out.len();
        if size <= limit {
            let changed = out.iter().any(|(_, _, c)| *c);
            let map = Map(out.into_iter().map(|(k, v, _)| (k, v)).collect());
            return Ok((Value::Dict(map), changed));
        }
        let mut kept = Map(out
            .into_iter()
            .take(limit)
            .map(|(k, v, _)| (k, v))
            .collect());
        kept.set("…", Value::str(format!("[{} more items]", size - limit)));
        Ok((Value::Dict(kept), true))
    }

    fn capped_dict<'a>(&self, map: Map<'a>, depth: i32) -> Step<(Value<'a>, bool)> {
        let limit = self.config.max_items;
        let size = map.len();
        let mut changed = size > limit;
        let mut out = Map::with_capacity(size.min(limit) + 1);
        for (key, value) in map.0.into_iter().take(limit) {
            let (item, c) = self.walk(value, depth - 1)?;
            out.0.push((key, item));
            changed |= c;
        }
        if size > limit {
            out.set("…", Value::str(format!("[{} more items]", size - limit)));
        }
        Ok((Value::Dict(out), changed))
    }
}

/// `encoding.mark_cuts`.
fn mark_cuts<'a>(event: &mut Map<'a>, cut: &[(Cow<'a, str>, i128)]) {
    event.set("truncated", Value::Bool(true));
    let sizes: Vec<(Cow<'a, str>, Value<'a>)> = cut
        .iter()
        .filter(|(_, size)| *size >= 0)
        .map(|(k, size)| (k.clone(), Value::Int(*size)))
        .collect();
    if sizes.is_empty() {
        event.remove("truncated_fields");
    } else {
        event.set("truncated_fields", Value::Dict(Map(sizes)));
    }
}

/// `Pipeline.hash_session_id`: `h:` and 32 hex digits of HMAC-SHA256.
pub fn hash_session_id(key: &[u8], session_id: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(session_id.as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(34);
    out.push_str("h:");
    for b in &digest[..16] {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The lines of a batch: for each event, its unsealed line, or None where the
/// reference must encode it (not taken, a [`Fallback`], or a panic). `chains[i]`
/// is the index in `stamps` of event `i`'s stream; its `seq` follows the stream's
/// `base_seq` in batch order, the reference's events counted too.
pub fn encode_batch(
    pipeline: &Pipeline,
    events: &[Option<RawEvent<'_>>],
    ids: &[String],
    chains: &[Option<usize>],
    stamps: &[Stamp<'_>],
) -> Vec<Option<Vec<u8>>> {
    let seqs = stamps.iter().map(|s| s.base_seq).collect();
    encode_from(pipeline, events, ids, chains, stamps, seqs)
}

/// [`encode_batch`] of a part of a batch whose streams stand at `seqs` before it
/// ([`seqs_after`] of the part before).
pub fn encode_from(
    pipeline: &Pipeline,
    events: &[Option<RawEvent<'_>>],
    ids: &[String],
    chains: &[Option<usize>],
    stamps: &[Stamp<'_>],
    mut seqs: Vec<i128>,
) -> Vec<Option<Vec<u8>>> {
    let mut lines = Vec::with_capacity(events.len());
    for (i, raw) in events.iter().enumerate() {
        let stamp = chains[i].map(|c| {
            seqs[c] += 1;
            (&stamps[c], seqs[c])
        });
        let line = raw.as_ref().and_then(|raw| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                pipeline.encode(raw, &ids[i], stamp)
            }))
            .ok()
            .and_then(Result::ok)
        });
        lines.push(line);
    }
    lines
}

/// Where each stream stands after the events of `chains` (from `base_seq`).
#[must_use]
pub fn seqs_after(stamps: &[Stamp<'_>], chains: &[Option<usize>]) -> Vec<i128> {
    let mut seqs: Vec<i128> = stamps.iter().map(|s| s.base_seq).collect();
    for c in chains.iter().flatten() {
        seqs[*c] += 1;
    }
    seqs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_counts_code_points() {
        assert_eq!(truncate("aébc", 2), "aé…[truncated 2 chars]");
        assert_eq!(truncate("abc", 3), "abc…[truncated 0 chars]");
    }

    #[test]
    fn session_ids_hash_as_the_reference() {
        // hmac.digest(b"k", b"abc", "sha256").hex()[:32]
        assert_eq!(
            hash_session_id(b"k", "abc"),
            "h:342e519ce0ad6c03a36b98eeb3f1d130"
        );
    }
}
