//! The scanning engine, without Python: the same function as the reference
//! `asgi_audit.record.scanner.Scanner`, on UTF-8 text.
//!
//! Offsets are byte offsets inside the engine; [`Engine::hits_chars`] turns
//! them into code-point offsets, which is what Python's `str` indexes are.
//!
//! What makes the two agree:
//!
//! * **Patterns** are refused unless the Rust `regex` crate (bytes, Unicode
//!   off) and Python's `re` (`re.ASCII`) read them alike: see [`check`]. Every
//!   pattern accepted here matches ASCII bytes only, so every match starts and
//!   ends on a character boundary, its secret is ASCII, and "the character
//!   before the match" is non-ASCII exactly when the byte before it is.
//! * **Keywords** are looked for in the text's UTF-8 bytes, ASCII letters
//!   compared without case and nothing else folded (UTF-8 holds no ASCII byte
//!   inside a multi-byte character, so an ASCII keyword occurs in the bytes
//!   exactly where it occurs in the text).
//! * **Searching** resumes where the reference resumes, one *character* past a
//!   refused match's start.
//! * **Entropy** is summed in the same order with the same operations.

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use regex_automata::meta::{self, Regex};
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input, Match, PatternID};
use regex_syntax::ast::{
    self, Ast, ClassSet, ClassSetItem, Flag, FlagsItemKind, GroupKind, RepetitionKind,
    RepetitionRange,
};
use regex_syntax::hir::{Class, Hir, HirKind};

use crate::plan::{has, plan, Plan};

/// The version of the semantics: what `asgi_audit.record.engine` checks
/// before it uses this engine.
pub const ENGINE: u32 = 2;

/// One rule as the Python side passes it.
#[derive(Clone, Debug)]
pub struct RuleSpec {
    /// The regular expression, in the subset [`check`] accepts.
    pub pattern: String,
    /// Lower-case ASCII strings; the rule runs when one of them occurs.
    pub keywords: Vec<String>,
    /// The least Shannon entropy of the secret, in bits per character.
    pub entropy: f64,
    /// The match must not touch an ASCII word character on either side.
    pub boundary: bool,
}

/// A hit: the secret's span and the rule's index in the table.
pub type Hit = (usize, usize, usize);

#[derive(Debug)]
struct Compiled {
    regex: Regex,
    /// The capture index of the group named `secret`, if there is one.
    secret: Option<usize>,
    entropy: f64,
    boundary: bool,
    /// What the pattern says about its matches (see [`crate::plan`]); the
    /// anchors' words are indexes into [`Engine::keyword_rules`].
    plan: Plan,
}

/// A rule table compiled for scanning. Immutable, so shared between threads.
#[derive(Debug)]
pub struct Engine {
    rules: Vec<Compiled>,
    /// The rules without a keyword: candidates for every text.
    always: Vec<usize>,
    /// The distinct keywords, and for each the rules that have it.
    keywords: Option<AhoCorasick>,
    keyword_rules: Vec<Vec<usize>>,
    /// For each keyword, the rules anchored on it: `(rule, lo, hi)`, every
    /// match of such a rule that holds no other of its anchors holds the
    /// keyword `lo..=hi` bytes after its start.
    anchored_on: Vec<Vec<(usize, usize, usize)>>,
}

/// What one scan of a text works with.
#[derive(Default)]
struct Scratch {
    /// The candidate rules, a bit per rule.
    candidates: Vec<u64>,
    /// The keywords found, a bit per keyword.
    seen: Vec<u64>,
    /// `(rule, first, last)`: a match of the rule may start from `first` to
    /// `last`, for each occurrence of each of the rule's anchors.
    windows: Vec<(usize, usize, usize)>,
    /// One rule's windows, sorted and merged.
    merged: Vec<(usize, usize)>,
}

/// The spare work allowed to the windows of one rule, in bytes searched
/// (counted at the most each search can read), before the rule is searched
/// in full: the scan stays linear in the text however many the windows.
fn window_budget(size: usize) -> usize {
    8 * size + 8192
}

/// The work counted for one search, besides the bytes it reads.
const SEARCH_COST: usize = 32;

/// Windows at most this wide are tried one start at a time (an anchored
/// search at each start a match can begin with); wider ones with one search.
const NARROW: usize = 16;

impl Engine {
    /// Compile a rule table; the message of an error names the rule's index.
    pub fn new(rules: &[RuleSpec]) -> Result<Engine, String> {
        let mut compiled = Vec::with_capacity(rules.len());
        let mut always = Vec::new();
        let mut words: Vec<String> = Vec::new();
        let mut keyword_rules: Vec<Vec<usize>> = Vec::new();
        let mut anchored_on: Vec<Vec<(usize, usize, usize)>> = Vec::new();
        for (index, rule) in rules.iter().enumerate() {
            let (regex, secret, hir) =
                compile_hir(&rule.pattern).map_err(|e| format!("rule {index}: {e}"))?;
            if rule.keywords.is_empty() {
                always.push(index);
            }
            let mut ids = Vec::with_capacity(rule.keywords.len());
            for word in &rule.keywords {
                if word.is_empty()
                    || !word.is_ascii()
                    || word.bytes().any(|b| b.is_ascii_uppercase())
                {
                    return Err(format!(
                        "rule {index}: keyword {word:?} is not lower-case ASCII"
                    ));
                }
                let id = match words.iter().position(|w| w == word) {
                    Some(at) => {
                        if keyword_rules[at].last() != Some(&index) {
                            keyword_rules[at].push(index);
                        }
                        at
                    }
                    None => {
                        words.push(word.clone());
                        keyword_rules.push(vec![index]);
                        anchored_on.push(Vec::new());
                        words.len() - 1
                    }
                };
                ids.push(id);
            }
            let names: Vec<&str> = rule.keywords.iter().map(String::as_str).collect();
            let mut plan = plan(&hir, &names);
            if let Some(anchors) = &mut plan.anchors {
                for a in anchors.iter_mut() {
                    a.word = ids[a.word];
                    anchored_on[a.word].push((index, a.lo, a.hi));
                }
            }
            compiled.push(Compiled {
                regex,
                secret,
                entropy: rule.entropy,
                boundary: rule.boundary,
                plan,
            });
        }
        let keywords = if words.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::Standard)
                    .kind(Some(AhoCorasickKind::DFA))
                    .build(&words)
                    .map_err(|e| format!("keywords: {e}"))?,
            )
        };
        Ok(Engine {
            rules: compiled,
            always,
            keywords,
            keyword_rules,
            anchored_on,
        })
    }

    /// The number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Find the candidate rules, and where each anchored one's matches may
    /// start (unsorted).
    fn prefilter(&self, hay: &[u8], scratch: &mut Scratch) {
        let Scratch {
            candidates,
            seen,
            windows,
            ..
        } = scratch;
        candidates.clear();
        candidates.resize(self.rules.len().div_ceil(64), 0);
        windows.clear();
        for &i in &self.always {
            candidates[i / 64] |= 1 << (i % 64);
        }
        let Some(automaton) = &self.keywords else {
            return;
        };
        seen.clear();
        seen.resize(self.keyword_rules.len().div_ceil(64), 0);
        for m in automaton.find_overlapping_iter(hay) {
            let word = m.pattern().as_usize();
            if seen[word / 64] & (1 << (word % 64)) == 0 {
                seen[word / 64] |= 1 << (word % 64);
                for &i in &self.keyword_rules[word] {
                    candidates[i / 64] |= 1 << (i % 64);
                }
            }
            let at = m.start();
            for &(rule, lo, hi) in &self.anchored_on[word] {
                if at >= lo {
                    windows.push((rule, at.saturating_sub(hi), at - lo));
                }
            }
        }
    }

    /// The indexes of the rules that can match `text`, in table order.
    pub fn candidates(&self, text: &str) -> Vec<usize> {
        let mut scratch = Scratch::default();
        self.prefilter(text.as_bytes(), &mut scratch);
        ones(&scratch.candidates).collect()
    }

    /// Every secret in `text`, as byte offsets, sorted by span then rule.
    pub fn hits(&self, text: &str) -> Vec<Hit> {
        thread_local! {
            static SCRATCH: std::cell::RefCell<Scratch> = Default::default();
        }
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => self.hits_with(text, &mut scratch),
            Err(_) => self.hits_with(text, &mut Scratch::default()),
        })
    }

    fn hits_with(&self, text: &str, scratch: &mut Scratch) -> Vec<Hit> {
        let hay = text.as_bytes();
        self.prefilter(hay, scratch);
        let Scratch {
            candidates,
            windows,
            merged,
            ..
        } = scratch;
        windows.sort_unstable();
        let mut hits = Vec::new();
        let mut next = 0; // the first window of the rules still to scan
        for index in ones(candidates) {
            let rule = &self.rules[index];
            let first = next + windows[next..].partition_point(|w| w.0 < index);
            next = first + windows[first..].partition_point(|w| w.0 == index);
            if !rule.plan.runs.iter().all(|run| run.is_in(hay)) {
                continue;
            }
            let starts = if rule.plan.anchors.is_some() {
                merged.clear();
                for &(_, lo, hi) in &windows[first..next] {
                    match merged.last_mut() {
                        Some(last) if lo <= last.1 + 1 => last.1 = last.1.max(hi),
                        _ => merged.push((lo, hi)),
                    }
                }
                Some(merged.as_slice())
            } else {
                None
            };
            self.scan_rule(index, text, starts, &mut hits);
        }
        hits.sort_unstable();
        hits
    }

    /// The hits of one rule, as the reference's loop finds them. With
    /// `starts` (sorted, apart), every match of the rule starts inside one of
    /// those windows, so only they are searched.
    fn scan_rule(
        &self,
        index: usize,
        text: &str,
        mut starts: Option<&[(usize, usize)]>,
        hits: &mut Vec<Hit>,
    ) {
        let rule = &self.rules[index];
        let hay = text.as_bytes();
        let size = hay.len();
        let mut budget = window_budget(size);
        let mut pos = 0;
        while pos <= size {
            if rule.boundary {
                pos = boundary_start(hay, pos);
                if pos > size {
                    break;
                }
            }
            let found = match starts {
                None => rule.regex.find(Input::new(hay).span(pos..size)),
                Some(windows) => {
                    // The first window that ends at or after `pos`.
                    let at = windows.partition_point(|w| w.1 < pos);
                    let Some(&(first, last)) = windows.get(at) else {
                        break;
                    };
                    starts = Some(&windows[at..]);
                    if first > pos {
                        // No match starts before `first`.
                        pos = first;
                        continue;
                    }
                    match rule.find_in(hay, pos, last, &mut budget) {
                        Ok(Some(m)) => Some(m),
                        Ok(None) => {
                            // No match starts from `pos` to `last`.
                            pos = last + 1;
                            continue;
                        }
                        Err(()) => {
                            // Over the budget: the rest searched in full.
                            starts = None;
                            continue;
                        }
                    }
                }
            };
            let Some(m) = found else {
                break;
            };
            let (start, end) = (m.start(), m.end());
            let alone = !rule.boundary
                || ((start == 0 || !is_word(hay[start - 1]))
                    && (end == size || !is_word(hay[end])));
            let secret = if alone {
                secret_span(rule, hay, start, end)
            } else {
                None
            };
            let kept = match secret {
                Some((s, e)) if e > s => {
                    rule.entropy <= 0.0 || entropy(&text[s..e]) >= rule.entropy
                }
                _ => false,
            };
            if let (true, Some((s, e))) = (kept, secret) {
                hits.push((s, e, index));
            }
            pos = if kept && end > start {
                end
            } else {
                next_char(hay, start)
            };
        }
    }

    /// Every secret in `text`, as code-point offsets (Python's `str` indexes).
    pub fn hits_chars(&self, text: &str) -> Vec<Hit> {
        let mut hits = self.hits(text);
        to_char_offsets(text, &mut hits);
        hits
    }

    /// `text` with every secret replaced by `mask`, the spans merged first.
    pub fn mask(&self, text: &str, mask: &str) -> String {
        splice(text, &merge(&self.hits(text)), mask)
    }
}

impl Compiled {
    /// The match a search from `from` finds, if it starts at or before
    /// `last`; `None` if none does. `Err` when the search would cost more
    /// than is left of `budget`.
    ///
    /// No match is longer than `max_len` and the patterns look at no
    /// context, so the matches that start from `from` to `last` are the same
    /// in the text cut at `last + max_len`; among the matches that start at
    /// one place, the leftmost-first one is the same whichever search finds it.
    fn find_in(
        &self,
        hay: &[u8],
        from: usize,
        last: usize,
        budget: &mut usize,
    ) -> Result<Option<Match>, ()> {
        let size = hay.len();
        let max_len = self.plan.max_len;
        let mut spend = |cost: usize| match budget.checked_sub(cost + SEARCH_COST) {
            Some(left) => {
                *budget = left;
                Ok(())
            }
            None => Err(()),
        };
        if last - from < NARROW {
            for at in from..=last.min(size) {
                if at == size || !has(self.plan.first, hay[at]) {
                    continue;
                }
                let end = size.min(at.saturating_add(max_len));
                spend(end - at)?;
                let input = Input::new(hay).span(at..end).anchored(Anchored::Yes);
                if let Some(m) = self.regex.find(input) {
                    return Ok(Some(m));
                }
            }
            return Ok(None);
        }
        let end = size.min(last.saturating_add(max_len));
        spend(end - from)?;
        Ok(self
            .regex
            .find(Input::new(hay).span(from..end))
            .filter(|m| m.start() <= last))
    }
}

/// The indexes of the bits set in `bits`, in order.
fn ones(bits: &[u64]) -> impl Iterator<Item = usize> + '_ {
    bits.iter().enumerate().flat_map(|(i, &word)| {
        let mut word = word;
        std::iter::from_fn(move || {
            if word == 0 {
                return None;
            }
            let bit = word.trailing_zeros() as usize;
            word &= word - 1;
            Some(i * 64 + bit)
        })
    })
}

/// The secret's span: the group `secret` if the rule has one (`None` when it
/// took no part in the match), else the whole match.
fn secret_span(rule: &Compiled, hay: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    match rule.secret {
        None => Some((start, end)),
        Some(group) => {
            // The leftmost-first match found at `start` is also the one found
            // anchored at `start` in the text cut at `end` (the patterns look
            // at no context), and the cut keeps this second search short.
            let mut caps = rule.regex.create_captures();
            let input = Input::new(hay).span(start..end).anchored(Anchored::Yes);
            rule.regex.search_captures(&input, &mut caps);
            caps.get_group(group).map(|g| (g.start, g.end))
        }
    }
}

/// With `boundary`, a match can only be kept where it starts at 0 or after a
/// byte that is no ASCII word character: every match the reference would try
/// at a position before that one it refuses, and then resumes one character
/// later. So the search may start at the first such position at or after
/// `pos` (past the end when there is none). The position may be inside a
/// character: no match of an ASCII pattern starts there.
fn boundary_start(hay: &[u8], pos: usize) -> usize {
    if pos == 0 || pos > hay.len() || !is_word(hay[pos - 1]) {
        return pos;
    }
    match hay[pos..].iter().position(|&b| !is_word(b)) {
        Some(at) => pos + at + 1,
        None => hay.len() + 1,
    }
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The offset one character past `at` (a character boundary), or past the end.
fn next_char(hay: &[u8], at: usize) -> usize {
    match hay.get(at) {
        None => at + 1,
        Some(&b) if b < 0x80 => at + 1,
        Some(&b) if b >= 0xF0 => at + 4,
        Some(&b) if b >= 0xE0 => at + 3,
        Some(_) => at + 2,
    }
}

/// Shannon entropy in bits per character, the counts summed in code-point
/// order, as the reference sums them.
pub fn entropy(text: &str) -> f64 {
    if text.is_empty() {
        return 0.0;
    }
    let mut total = 0.0;
    if text.is_ascii() {
        let mut counts = [0usize; 128];
        for &b in text.as_bytes() {
            counts[usize::from(b)] += 1;
        }
        let n = text.len() as f64;
        for &count in counts.iter().filter(|&&c| c > 0) {
            let p = count as f64 / n;
            total -= p * p.log2();
        }
    } else {
        let mut chars: Vec<char> = text.chars().collect();
        let n = chars.len() as f64;
        chars.sort_unstable();
        for run in chars.chunk_by(|a, b| a == b) {
            let p = run.len() as f64 / n;
            total -= p * p.log2();
        }
    }
    total
}

/// `text` with each of `spans` (sorted, apart) replaced by `mask`.
pub fn splice(text: &str, spans: &[(usize, usize)], mask: &str) -> String {
    if spans.is_empty() {
        return text.to_owned();
    }
    let kept: usize = text.len() - spans.iter().map(|(s, e)| e - s).sum::<usize>();
    let mut out = String::with_capacity(kept + spans.len() * mask.len());
    let mut pos = 0;
    for &(start, end) in spans {
        out.push_str(&text[pos..start]);
        out.push_str(mask);
        pos = end;
    }
    out.push_str(&text[pos..]);
    out
}

/// The spans of `hits` (sorted) merged where they overlap or touch.
pub fn merge(hits: &[Hit]) -> Vec<(usize, usize)> {
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for &(start, end, _) in hits {
        match spans.last_mut() {
            Some(last) if start <= last.1 => {
                if end > last.1 {
                    last.1 = end;
                }
            }
            _ => spans.push((start, end)),
        }
    }
    spans
}

/// Turn sorted byte offsets on character boundaries into code-point offsets.
pub fn to_char_offsets(text: &str, hits: &mut [Hit]) {
    if text.is_ascii() || hits.is_empty() {
        return;
    }
    let mut offsets: Vec<usize> = hits.iter().flat_map(|&(s, e, _)| [s, e]).collect();
    offsets.sort_unstable();
    offsets.dedup();
    let bytes = text.as_bytes();
    let mut chars = Vec::with_capacity(offsets.len());
    let (mut at, mut count) = (0usize, 0usize);
    for &o in &offsets {
        count += bytes[at..o].iter().filter(|&&b| (b & 0xC0) != 0x80).count();
        at = o;
        chars.push(count);
    }
    let find = |o: usize| {
        chars[offsets
            .binary_search(&o)
            .expect("an offset collected above")]
    };
    for hit in hits.iter_mut() {
        *hit = (find(hit.0), find(hit.1), hit.2);
    }
}

/// Compile `pattern` after [`check`]: the regex, and the capture index of the
/// group `secret` if it has one.
pub fn compile(pattern: &str) -> Result<(Regex, Option<usize>), String> {
    compile_hir(pattern).map(|(regex, secret, _)| (regex, secret))
}

/// [`compile`], and the syntax the regex was built from.
///
/// The regex is built as `regex::bytes::RegexBuilder::new(pattern)
/// .unicode(false).build()` builds it (the same configuration of the same
/// engine), from the pattern parsed once, so that what `crate::plan` reads
/// is what the regex runs.
fn compile_hir(pattern: &str) -> Result<(Regex, Option<usize>, Hir), String> {
    let hir = check_parsed(pattern)?;
    let config = meta::Config::new()
        .nfa_size_limit(Some(10 * (1 << 20)))
        .hybrid_cache_capacity(2 * (1 << 20))
        .match_kind(regex_automata::MatchKind::LeftmostFirst)
        .utf8_empty(false);
    let regex = meta::Builder::new()
        .configure(config)
        .syntax(syntax::Config::new().unicode(false).utf8(false))
        .build_from_hir(&hir)
        .map_err(|e| format!("pattern {pattern:?}: {e}"))?;
    let names: Vec<Option<&str>> = regex.group_info().pattern_names(PatternID::ZERO).collect();
    let secret = match names.as_slice() {
        [_] => None,
        [_, Some("secret")] => Some(1),
        _ => {
            return Err(format!(
                "pattern {pattern:?}: groups other than (?P<secret>...)"
            ))
        }
    };
    if regex.is_match(b"") {
        return Err(format!("pattern {pattern:?}: matches the empty string"));
    }
    Ok((regex, secret, hir))
}

/// Refuse a pattern unless it is in the subset on which Python's `re` (with
/// `re.ASCII`) and this crate's `regex` (bytes, Unicode off) match the same
/// spans. Beyond the reference's own check, this refuses what the reference's
/// spelling check lets through but the two read differently: an escape for a
/// character outside ASCII (`\xff`), spaces in a counted repetition
/// (`a{1, 3}` is a literal to Python), Rust's class syntax (`[[:alpha:]]`,
/// nested classes, `&&`, `--`, `~~`), assertions (`\<` is a word boundary to
/// Rust and a `<` to Python), and any flag but `i`.
pub fn check(pattern: &str) -> Result<(), String> {
    check_parsed(pattern).map(|_| ())
}

/// [`check`], and the pattern parsed.
fn check_parsed(pattern: &str) -> Result<Hir, String> {
    let fail = |what: &str| Err(format!("pattern {pattern:?}: {what}"));
    if !pattern.is_ascii() {
        return fail("not ASCII");
    }
    let parsed = ast::parse::ParserBuilder::new()
        .build()
        .parse(pattern)
        .map_err(|e| format!("pattern {pattern:?}: {e}"))?;
    if let Err(what) = check_ast(&parsed, pattern) {
        return fail(&what);
    }
    let hir = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(pattern)
        .map_err(|e| format!("pattern {pattern:?}: {e}"))?;
    if let Err(what) = check_hir(&hir) {
        return fail(&what);
    }
    Ok(hir)
}

fn check_ast(node: &Ast, pattern: &str) -> Result<(), String> {
    match node {
        Ast::Empty(_) | Ast::Literal(_) => Ok(()),
        Ast::Flags(set) => check_flags(&set.flags),
        Ast::Dot(_) => Err("'.' (use a class)".into()),
        Ast::Assertion(_) => Err("an anchor or assertion".into()),
        Ast::ClassUnicode(_) => Err("a Unicode class".into()),
        Ast::ClassPerl(_) => Ok(()), // \d \s \w: ASCII in both; negated ones fail check_hir
        Ast::ClassBracketed(class) => {
            if class.negated {
                return Err("a negated class".into());
            }
            check_class_set(&class.kind)
        }
        Ast::Repetition(rep) => {
            match &rep.op.kind {
                RepetitionKind::ZeroOrOne => {}
                RepetitionKind::Range(RepetitionRange::Exactly(_))
                | RepetitionKind::Range(RepetitionRange::Bounded(_, _)) => {
                    let op = &pattern[rep.op.span.start.offset..rep.op.span.end.offset];
                    if op.bytes().any(|b| b.is_ascii_whitespace()) {
                        return Err("a space in a counted repetition".into());
                    }
                }
                _ => return Err("an unbounded repetition".into()),
            }
            check_ast(&rep.ast, pattern)
        }
        Ast::Group(group) => {
            match &group.kind {
                GroupKind::CaptureIndex(_) => {
                    return Err("groups other than (?P<secret>...)".into())
                }
                GroupKind::CaptureName { name, .. } if name.name != "secret" => {
                    return Err("groups other than (?P<secret>...)".into())
                }
                GroupKind::CaptureName { .. } => {}
                GroupKind::NonCapturing(flags) => check_flags(flags)?,
            }
            check_ast(&group.ast, pattern)
        }
        Ast::Alternation(alt) => alt.asts.iter().try_for_each(|a| check_ast(a, pattern)),
        Ast::Concat(concat) => concat.asts.iter().try_for_each(|a| check_ast(a, pattern)),
    }
}

fn check_flags(flags: &ast::Flags) -> Result<(), String> {
    for item in &flags.items {
        match item.kind {
            FlagsItemKind::Negation | FlagsItemKind::Flag(Flag::CaseInsensitive) => {}
            FlagsItemKind::Flag(_) => return Err("a flag other than i".into()),
        }
    }
    Ok(())
}

fn check_class_set(set: &ClassSet) -> Result<(), String> {
    match set {
        ClassSet::BinaryOp(_) => Err("a class operation (&&, --, ~~)".into()),
        ClassSet::Item(item) => check_class_item(item),
    }
}

fn check_class_item(item: &ClassSetItem) -> Result<(), String> {
    match item {
        ClassSetItem::Empty(_)
        | ClassSetItem::Literal(_)
        | ClassSetItem::Range(_)
        | ClassSetItem::Perl(_) => Ok(()),
        ClassSetItem::Ascii(_) => Err("a POSIX class ([:alpha:])".into()),
        ClassSetItem::Unicode(_) => Err("a Unicode class".into()),
        ClassSetItem::Bracketed(_) => Err("a nested class".into()),
        ClassSetItem::Union(union) => union.items.iter().try_for_each(check_class_item),
    }
}

fn check_hir(hir: &Hir) -> Result<(), String> {
    match hir.kind() {
        HirKind::Empty => Ok(()),
        HirKind::Literal(lit) => {
            if lit.0.is_ascii() {
                Ok(())
            } else {
                Err("a character outside ASCII".into())
            }
        }
        HirKind::Class(Class::Bytes(class)) => {
            if class.ranges().iter().all(|r| r.end() < 0x80) {
                Ok(())
            } else {
                Err("a class with characters outside ASCII".into())
            }
        }
        HirKind::Class(Class::Unicode(class)) => {
            if class.ranges().iter().all(|r| r.end() < '\u{80}') {
                Ok(())
            } else {
                Err("a class with characters outside ASCII".into())
            }
        }
        HirKind::Look(_) => Err("an anchor or assertion".into()),
        HirKind::Repetition(rep) => {
            if rep.max.is_none() {
                return Err("an unbounded repetition".into());
            }
            check_hir(&rep.sub)
        }
        HirKind::Capture(cap) => check_hir(&cap.sub),
        HirKind::Concat(subs) | HirKind::Alternation(subs) => subs.iter().try_for_each(check_hir),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(pattern: &str, keywords: &[&str], entropy: f64, boundary: bool) -> RuleSpec {
        RuleSpec {
            pattern: pattern.into(),
            keywords: keywords.iter().map(|k| k.to_string()).collect(),
            entropy,
            boundary,
        }
    }

    fn engine(rules: &[RuleSpec]) -> Engine {
        Engine::new(rules).expect("a valid table")
    }

    #[test]
    fn finds_a_token_and_masks_it() {
        let e = engine(&[rule("ghp_[A-Za-z0-9]{36}", &["ghp_"], 3.0, true)]);
        let token = "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789";
        let text = format!("token={token} end");
        assert_eq!(e.hits(&text), vec![(6, 6 + token.len(), 0)]);
        assert_eq!(e.mask(&text, "***"), "token=*** end");
    }

    #[test]
    fn offsets_are_code_points() {
        let e = engine(&[rule("key=[a-z]{3}", &["key"], 0.0, true)]);
        let text = "é😀 key=abc ü";
        assert_eq!(e.hits(text), vec![(7, 14, 0)]);
        assert_eq!(e.hits_chars(text), vec![(3, 10, 0)]);
        assert_eq!(e.mask(text, "#"), "é😀 # ü");
    }

    #[test]
    fn boundary_is_ascii_word_characters_only() {
        let e = engine(&[rule("abc", &[], 0.0, true)]);
        assert_eq!(e.hits("xabc abc_ abc"), vec![(10, 13, 0)]);
        // A non-ASCII letter is no word character for the boundary.
        assert_eq!(e.hits_chars("éabcé"), vec![(1, 4, 0)]);
        let loose = engine(&[rule("abc", &[], 0.0, false)]);
        assert_eq!(loose.hits("xabcx").len(), 1);
    }

    #[test]
    fn a_refused_match_resumes_one_character_later() {
        // In "xaaab" the match "aaab" touches the x; the search resumes one
        // character later and finds "aab", then "ab", both refused as well.
        let e = engine(&[rule("a{1,3}b", &[], 0.0, true)]);
        assert_eq!(e.hits("xaaab"), vec![]);
        assert_eq!(e.hits("aaab"), vec![(0, 4, 0)]);
        let loose = engine(&[rule("a{1,3}b", &[], 0.0, false)]);
        assert_eq!(loose.hits("aaaab"), vec![(1, 5, 0)]);
    }

    #[test]
    fn the_secret_group_is_what_is_masked() {
        let e = engine(&[rule(
            "pass=(?P<secret>[a-z0-9]{4,8})",
            &["pass="],
            0.0,
            true,
        )]);
        assert_eq!(e.hits("pass=hunter2 x"), vec![(5, 12, 0)]);
        assert_eq!(e.mask("pass=hunter2 x", "*"), "pass=* x");
        // A secret group that takes no part in the match refuses it.
        let optional = engine(&[rule("k(?P<secret>x)?y", &[], 0.0, false)]);
        assert_eq!(optional.hits("ky kxy"), vec![(4, 5, 0)]);
    }

    #[test]
    fn entropy_floor() {
        let e = engine(&[rule("[a-z]{8}", &[], 2.5, true)]);
        assert_eq!(e.hits("aaaaaaaa abcdefgh"), vec![(9, 17, 0)]);
        assert_eq!(entropy("abcd"), 2.0);
        assert_eq!(entropy("aaaa"), 0.0);
        assert_eq!(entropy(""), 0.0);
        assert_eq!(entropy("aébé"), 1.5);
    }

    #[test]
    fn keywords_fold_ascii_case_only() {
        let e = engine(&[rule("(?:key|tok)[0-9]{2}", &["key"], 0.0, false)]);
        assert_eq!(e.hits("tok12"), vec![]);
        assert_eq!(e.hits("KEY tok12"), vec![(4, 9, 0)]);
        // The KELVIN SIGN and "İ" are not ASCII letters: no keyword in them.
        assert_eq!(e.hits_chars("\u{212A}ey tok12"), vec![]);
        let api = engine(&[rule("(?:api|tok)[0-9]{2}", &["api"], 0.0, false)]);
        assert_eq!(api.hits_chars("Ap\u{130} tok12"), vec![]);
        assert_eq!(api.hits_chars("aPi tok12"), vec![(4, 9, 0)]);
    }

    #[test]
    fn spans_merge_where_they_overlap_or_touch() {
        let e = engine(&[
            rule("[a-c]{3}", &[], 0.0, false),
            rule("[c-e]{3}", &[], 0.0, false),
            rule("xy", &[], 0.0, false),
        ]);
        assert_eq!(e.mask("abcdexy-xy", "#"), "#-#");
        assert_eq!(
            merge(&[(0, 2, 0), (2, 3, 1), (5, 6, 0)]),
            vec![(0, 3), (5, 6)]
        );
    }

    #[test]
    fn patterns_outside_the_subset_are_refused() {
        for bad in [
            "a+",
            "a*",
            "a{2,}",
            ".",
            "^a",
            "a$",
            "\\ba",
            "\\<a",
            "[^a]",
            "(a)",
            "(?P<x>a)",
            "(?x)a b",
            "(?s)a",
            "[[:alpha:]]",
            "[a[b]]",
            "[a-z&&b]",
            "[a--b]",
            "a{1, 3}",
            "\\xff",
            "\\u00e9",
            "\\pL",
            "\\W",
            "[\\D]",
            "é",
            "a?",
            "(?:)",
            "(a",
            "a{,3}",
        ] {
            assert!(compile(bad).is_err(), "{bad:?} was accepted");
        }
        for good in [
            "abc",
            "(?i)abc",
            "(?i:ab)c",
            "[a-z0-9_]{3,5}",
            "(?P<secret>[A-F]{4})",
            "a|b{2}c?",
            "\\-\\.\\[\\]",
            "[\\d\\w\\s]",
            "x{2}?",
            "[]a]",
            "[a-]",
        ] {
            assert!(
                compile(good).is_ok(),
                "{good:?} was refused: {:?}",
                compile(good).err()
            );
        }
    }

    #[test]
    fn keywords_must_be_lower_case_ascii() {
        for bad in ["", "Key", "kéy"] {
            assert!(Engine::new(&[rule("abc", &[bad], 0.0, true)]).is_err());
        }
    }

    /// A table whose rules the search narrows (anchors at fixed and varying
    /// offsets, factored alternatives, windows wider than `NARROW`, runs):
    /// random texts dense with keywords and their near misses, at the ends,
    /// overlapping, and long repeats, against the slow implementation.
    #[test]
    fn narrowed_searches_find_what_the_definition_finds() {
        let rules = vec![
            rule(
                "(?i:passwd|password|pwd)(?:=|:[ \\t]{1,4})(?P<secret>[a-z0-9=]{0,12}[0-9][a-z0-9=]{0,12})",
                &["passw", "pwd"],
                0.0,
                false,
            ),
            rule(
                "(?i:api[_.-]?key|secret|token)[ =:]{1,3}(?P<secret>[A-Za-z0-9=]{4,20})",
                &["key", "secret", "token"],
                1.0,
                true,
            ),
            rule(
                "(?i:(?:[a-z0-9_.-]{0,20}[_.-])?together[a-z]{0,3})=(?P<secret>[0-9a-f]{6})",
                &["together"],
                0.0,
                true,
            ),
            rule(";[ \\t]{0,2}(?i:pwd)=(?P<secret>[a-z]{2,5})", &["pwd"], 0.0, false),
            rule("ghp_[A-Za-z0-9]{30}", &["ghp_"], 2.0, true),
            rule("[a-z2-7]{12}", &[], 3.0, true),
            rule("(?:ab|k)[a-c]{1,3}", &["ab"], 0.0, false),
            rule("x(?:y|z){0,2}[0-9]{2}", &["xy", "xz", "x"], 0.0, true),
        ];
        let e = engine(&rules);
        for (i, r) in e.rules.iter().enumerate() {
            assert_eq!(r.plan.anchors.is_some(), i != 5 && i != 6, "rule {i}");
        }
        assert!(e.rules[2].plan.anchors.as_ref().unwrap()[0].hi > NARROW);
        assert!(e.rules[4].plan.runs.iter().any(|r| r.len >= 30));
        let oracle = crate::oracle::Oracle::new(&rules);
        let pieces = [
            "password", "PassWd", "pwd", "passw", "=", ":", " ", "\t", "key", "api", "api_",
            "api-key", "apikey", "secret", "token", "together", "toGether", "my_", "x.", "abc",
            "ghp_", "abcdefgh", "23456", "7", "0", "f", "deadbeef", ";", "; ", "k", "ab", "xy",
            "xz", "x", "12", "é", "_", "-", "==",
        ];
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..20_000 {
            let n = (next() % 30) as usize;
            let mut text: String = (0..n)
                .map(|_| pieces[(next() % pieces.len() as u64) as usize])
                .collect();
            if round % 500 == 0 {
                // A long repeat: many windows, the budget spent.
                text = text.repeat(200);
            }
            assert_eq!(e.hits(&text), oracle.hits(&text), "{text:?}");
        }
        for unit in [
            "key=",
            "password=",
            "x",
            "xy12",
            "together=",
            "api_key: 0",
            "a",
        ] {
            for size in [1, 7, 1000, 5000] {
                let text = unit.repeat(size);
                assert_eq!(e.hits(&text), oracle.hits(&text), "{unit:?} x {size}");
            }
        }
    }

    /// Many random inputs: the hits of the slow implementation of the
    /// definition (`oracle`), hits sorted and on character boundaries, the
    /// mask the text spliced at the merged spans, code-point offsets, and the
    /// keyword prefilter changing nothing once every keyword occurs.
    #[test]
    fn random_inputs_keep_the_invariants() {
        let rules = vec![
            rule("(?i)ghp_[A-Za-z0-9]{8,12}", &["ghp_"], 2.0, true),
            rule("key=(?P<secret>[a-z0-9]{2,6})", &["key="], 0.0, true),
            rule("(?:ab|k)[a-c]{1,3}", &["ab"], 0.0, false),
            rule("[0-9]{3}", &[], 1.0, true),
            rule("x(?P<secret>y)?z", &["xz", "xyz"], 0.0, false),
            rule("(?:api|tok)[0-9]{2}", &["api"], 0.0, true),
            rule("[a-c]{3}", &[], 1.5, false),
        ];
        let e = engine(&rules);
        let oracle = crate::oracle::Oracle::new(&rules);
        let unfiltered = engine(
            &rules
                .iter()
                .map(|r| RuleSpec {
                    keywords: vec![],
                    ..r.clone()
                })
                .collect::<Vec<_>>(),
        );
        let pieces = [
            "ghp_", "GHP_", "key=", "ab", "k", "abc", "xz", "xyz", "123", "a", "b", "c", "_", " ",
            "=", "é", "😀", "\u{301}", "\u{130}", "\u{212A}", "x", "y", "z", "0", "9", "ey=", "ap",
            "tok", "12",
        ];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let n = (next() % 24) as usize;
            let text: String = (0..n)
                .map(|_| pieces[(next() % pieces.len() as u64) as usize])
                .collect();
            let hits = e.hits(&text);
            assert_eq!(hits, oracle.hits(&text), "{text:?}");
            assert!(hits.windows(2).all(|w| w[0] <= w[1]), "{text:?}");
            for &(s, end, r) in &hits {
                assert!(s < end && text.is_char_boundary(s) && text.is_char_boundary(end));
                assert!(rules[r].entropy <= 0.0 || entropy(&text[s..end]) >= rules[r].entropy);
            }
            let mut expected = String::new();
            let mut pos = 0;
            for (s, end) in merge(&hits) {
                expected.push_str(&text[pos..s]);
                expected.push('#');
                pos = end;
            }
            expected.push_str(&text[pos..]);
            assert_eq!(e.mask(&text, "#"), expected);
            let chars = e.hits_chars(&text);
            for (&(bs, be, _), &(cs, ce, _)) in hits.iter().zip(&chars) {
                assert_eq!(text[..bs].chars().count(), cs);
                assert_eq!(text[..be].chars().count(), ce);
            }
            // Once every keyword occurs, the prefilter changes nothing.
            let with_all = format!("{text} ghp_ key= ab xz api");
            assert_eq!(
                e.candidates(&with_all),
                (0..rules.len()).collect::<Vec<_>>()
            );
            assert_eq!(
                e.hits(&with_all),
                unfiltered.hits(&with_all),
                "{with_all:?}"
            );
        }
    }
}
