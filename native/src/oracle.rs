//! A slow second implementation of the reference's definition, for the tests
//! and the fuzz target: no keyword automaton (ASCII lower-casing,
//! `str::to_ascii_lowercase`, then `contains`), no unanchored search, no skipping.
//! For each candidate rule it tries every character position in order, as the
//! reference's loop does, with the rule's pattern anchored there.

use regex::bytes::{Regex, RegexBuilder};

use crate::scan::{entropy, Hit, RuleSpec};

/// The rules, each pattern compiled anchored.
pub struct Oracle {
    rules: Vec<(RuleSpec, Regex, bool)>,
}

impl Oracle {
    /// The rules must be valid (see [`crate::scan::Engine::new`]).
    pub fn new(rules: &[RuleSpec]) -> Oracle {
        let rules = rules
            .iter()
            .map(|rule| {
                let anchored = RegexBuilder::new(&format!("^(?:{})", rule.pattern))
                    .unicode(false)
                    .build()
                    .expect("a valid pattern");
                let has_secret = anchored.capture_names().any(|n| n == Some("secret"));
                (rule.clone(), anchored, has_secret)
            })
            .collect();
        Oracle { rules }
    }

    /// The hits in `text` by the definition, as byte offsets, sorted.
    pub fn hits(&self, text: &str) -> Vec<Hit> {
        let lowered = text.to_ascii_lowercase();
        let hay = text.as_bytes();
        let starts: Vec<usize> = text
            .char_indices()
            .map(|(i, _)| i)
            .chain([text.len()])
            .collect();
        let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
        let mut hits = Vec::new();
        for (index, (rule, anchored, has_secret)) in self.rules.iter().enumerate() {
            let candidate = rule.keywords.is_empty()
                || rule.keywords.iter().any(|k| lowered.contains(k.as_str()));
            if !candidate {
                continue;
            }
            let mut next = 0; // an index into `starts`
            while next < starts.len() {
                let at = starts[next];
                let Some(caps) = anchored.captures(&hay[at..]) else {
                    next += 1;
                    continue;
                };
                let whole = caps.get(0).expect("group 0");
                let (start, end) = (at + whole.start(), at + whole.end());
                let (s, e) = match (caps.name("secret"), has_secret) {
                    (Some(g), _) => (at + g.start(), at + g.end()),
                    (None, true) => (0, 0), // the group took no part: refused
                    (None, false) => (start, end),
                };
                let alone = !rule.boundary
                    || ((start == 0 || !word(hay[start - 1]))
                        && (end == hay.len() || !word(hay[end])));
                let kept =
                    alone && e > s && (rule.entropy <= 0.0 || entropy(&text[s..e]) >= rule.entropy);
                if kept {
                    hits.push((s, e, index));
                    if end > start {
                        next = starts
                            .binary_search(&end)
                            .expect("a match ends on a boundary");
                        continue;
                    }
                }
                next += 1;
            }
        }
        hits.sort_unstable();
        hits
    }
}
