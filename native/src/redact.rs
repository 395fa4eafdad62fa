//! One string's redaction: the compiled form of
//! `asgi_audit.record.redaction.Redactor.spans` and `redact_text`, for ASCII text.
//!
//! Every detector (the shapes, the rule table, the pairs and the flags) runs on
//! the text as written, on its percent-decoded view and, where it holds a `+`, on
//! the text read with `+` as a space (not for random runs); the spans are merged,
//! grown to the edges of their token and masked (`record.percent`,
//! `record.shapes.merge_spans`, `apply_mask`). `None` says that only the
//! reference can decide (see [`crate::shapes`]).

use crate::keys::Keys;
use crate::pairs::{flag_spans, has_flag, pair_spans};
use crate::scan::{splice, Engine};
use crate::shapes::shape_spans;

/// A rule table and a deployment's secret words: what one redaction needs.
pub struct Redaction<'a> {
    pub engine: &'a Engine,
    pub keys: &'a Keys,
}

impl Redaction<'_> {
    /// The merged spans of `text` (ASCII) that are masked, grown to their
    /// tokens: `Redactor.spans`.
    pub fn spans(&self, text: &str) -> Option<Vec<(usize, usize)>> {
        let bytes = text.as_bytes();
        let view = if bytes.contains(&b'%') {
            decoded_view(bytes)
        } else {
            None
        };
        let mut found = Vec::new();
        self.find(text, view.is_none(), &mut found)?;
        let escaped = view.is_some();
        if let Some((decoded, starts)) = view {
            let decoded = String::from_utf8(decoded).expect("ASCII escapes decode to ASCII");
            let mut more = Vec::new();
            self.find(&decoded, true, &mut more)?;
            found.extend(more.into_iter().map(|(s, e)| (starts[s], starts[e])));
        }
        if bytes.contains(&b'+') {
            // A form's space: the text read with each "+" as a space (and its
            // escapes decoded); not for random runs.
            let spaced: Vec<u8> = bytes
                .iter()
                .map(|&b| if b == b'+' { b' ' } else { b })
                .collect();
            let plus_view = if escaped { decoded_view(&spaced) } else { None };
            let (plus, starts) = match plus_view {
                Some((decoded, starts)) => (decoded, Some(starts)),
                None => (spaced, None),
            };
            let plus = String::from_utf8(plus).expect("ASCII stays ASCII");
            let mut more = Vec::new();
            self.find(&plus, false, &mut more)?;
            found.extend(more.into_iter().map(|(s, e)| match &starts {
                Some(starts) => (starts[s], starts[e]),
                None => (s, e),
            }));
        }
        let grown: Vec<(usize, usize)> = merge(found)
            .into_iter()
            .map(|(s, e)| extend_to_token(bytes, s, e))
            .collect();
        Some(merge(grown))
    }

    /// `text` (ASCII) with its secrets masked; `Some(None)` when it holds none.
    pub fn redact(&self, text: &str, mask: &str) -> Option<Option<String>> {
        let spans = self.spans(text)?;
        if spans.is_empty() {
            return Some(None);
        }
        Some(Some(splice(text, &spans, mask)))
    }

    fn find(&self, text: &str, random: bool, out: &mut Vec<(usize, usize)>) -> Option<()> {
        let bytes = text.as_bytes();
        out.extend(shape_spans(bytes, random)?);
        out.extend(self.engine.hits(text).into_iter().map(|(s, e, _)| (s, e)));
        let secret = |key: &[u8]| self.keys.is_secret(key);
        if bytes.iter().any(|&b| b == b'=' || b == b':') {
            pair_spans(bytes, &secret, out);
        }
        if has_flag(bytes) {
            flag_spans(bytes, &secret, out);
        }
        Some(())
    }
}

/// `record.percent.decoded_view`: the text with its ASCII escapes (`%00` to
/// `%7F`) decoded, and for each byte of the view (and its end) where it starts
/// in the text; `None` when there is no such escape.
pub fn decoded_view(text: &[u8]) -> Option<(Vec<u8>, Vec<usize>)> {
    let size = text.len();
    let mut view = Vec::with_capacity(size);
    let mut starts = Vec::with_capacity(size + 1);
    let mut escapes = false;
    let mut i = 0;
    while i < size {
        if text[i] == b'%' && i + 2 < size {
            if let (Some(high), Some(low)) = (hex(text[i + 1]), hex(text[i + 2])) {
                if high < 8 {
                    view.push(high * 16 + low);
                    starts.push(i);
                    escapes = true;
                    i += 3;
                    continue;
                }
            }
        }
        view.push(text[i]);
        starts.push(i);
        i += 1;
    }
    starts.push(size);
    escapes.then_some((view, starts))
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// `record.percent.extend_to_token`: the span grown over the token characters
/// `[A-Za-z0-9_-]` around it, never into or across a `%XX` escape.
pub fn extend_to_token(text: &[u8], mut start: usize, mut end: usize) -> (usize, usize) {
    while start > 0 && is_token(text[start - 1]) {
        if start >= 3
            && text[start - 3] == b'%'
            && hex(text[start - 2]).is_some()
            && hex(text[start - 1]).is_some()
        {
            break;
        }
        start -= 1;
    }
    while end < text.len() && is_token(text[end]) {
        end += 1;
    }
    (start, end)
}

/// `record.shapes.merge_spans`: sorted, merged where they overlap or touch,
/// empty ones dropped.
pub fn merge(mut spans: Vec<(usize, usize)>) -> Vec<(usize, usize)> {
    spans.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
    for (start, end) in spans {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ if end > start => merged.push((start, end)),
            _ => {}
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_view_maps_back_to_the_escapes() {
        let (view, starts) = decoded_view(b"a%3Db%zz%41").unwrap();
        assert_eq!(view, b"a=b%zzA");
        assert_eq!(starts, [0, 1, 4, 5, 6, 7, 8, 11]);
        assert!(decoded_view(b"100%").is_none());
        assert!(decoded_view(b"%80%FF").is_none());
    }

    #[test]
    fn tokens_grow_but_not_into_escapes() {
        assert_eq!(extend_to_token(b"ab-cd ef", 3, 4), (0, 5));
        assert_eq!(extend_to_token(b"%3Dabc", 4, 5), (3, 6));
    }

    #[test]
    fn merging_drops_empty_spans() {
        assert_eq!(merge(vec![(5, 5), (1, 3), (3, 4)]), [(1, 4)]);
    }
}
