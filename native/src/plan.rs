//! What a rule's pattern says about every one of its matches, read from its
//! syntax once, when the table is compiled: facts that let the search skip
//! text where no match can be, and so change no result.
//!
//! * **Run**: every match holds a run of at least `len` consecutive bytes from
//!   a set (a token's body: 36 of `[A-Za-z0-9]`). A text without such a run
//!   holds no match.
//! * **Anchors**: every match holds one of the rule's keywords starting a
//!   bounded distance after the match's start (`password` at 0, `key` 3 or 4
//!   bytes in for `api[_.-]?key`). The keyword automaton finds every
//!   occurrence of every keyword, so every match starts in a window before
//!   one of them.
//! * **First bytes**: the bytes a match can begin with.
//!
//! Each fact is derived by rules that only ever under-claim: where the syntax
//! is not understood, no fact is claimed and the rule is searched in full.

use regex_syntax::hir::{Class, Hir, HirKind};

/// A set of bytes; patterns match ASCII only (see `scan::check`), so 128 bits.
pub type ByteSet = u128;

/// `word` (an index into the keyword list the analysis was given) occurs,
/// ASCII case aside, starting `lo..=hi` bytes after the start of the match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Anchor {
    pub word: usize,
    pub lo: usize,
    pub hi: usize,
}

/// The facts about one pattern.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// Every match holds each of these runs (the most telling first).
    pub runs: Vec<Run>,
    /// Every match holds one of these anchors (`None`: no such fact).
    pub anchors: Option<Vec<Anchor>>,
    /// The bytes a match can begin with.
    pub first: ByteSet,
    /// The length of the longest match.
    pub max_len: usize,
}

/// A run of at least `len` consecutive bytes of a set, made ready to look for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    /// The set, a bit per byte.
    table: [u64; 4],
    pub len: usize,
    /// The set's bytes, when it has at most three and `len` is 1.
    few: Option<Vec<u8>>,
}

impl Run {
    fn new((set, len): (ByteSet, usize)) -> Run {
        let members: Vec<u8> = (0..128u8).filter(|&b| has(set, b)).collect();
        Run {
            table: [set as u64, (set >> 64) as u64, 0, 0],
            len,
            few: (len == 1 && members.len() <= 3).then_some(members),
        }
    }

    fn holds(&self, b: u8) -> bool {
        (self.table[usize::from(b >> 6)] >> (b & 63)) & 1 == 1
    }

    /// Whether `hay` holds such a run. Each stretch of `len` bytes is read
    /// from its end back: a byte outside the set rules out every run through
    /// it, so the next stretch to read ends `len` bytes past that byte.
    pub fn is_in(&self, hay: &[u8]) -> bool {
        match self.few.as_deref() {
            Some(&[a]) => return memchr::memchr(a, hay).is_some(),
            Some(&[a, b]) => return memchr::memchr2(a, b, hay).is_some(),
            Some(&[a, b, c]) => return memchr::memchr3(a, b, c, hay).is_some(),
            _ => {}
        }
        let len = self.len;
        if len == 0 {
            return true;
        }
        let mut end = len - 1;
        while end < hay.len() {
            let start = end + 1 - len;
            let mut i = end;
            loop {
                if !self.holds(hay[i]) {
                    break;
                }
                if i == start {
                    return true;
                }
                i -= 1;
            }
            end = i + len;
        }
        false
    }
}

/// The facts about `hir` (a pattern that matches no empty string, with
/// bounded repetitions only), its anchors taken from `words` (lower-case).
pub fn plan(hir: &Hir, words: &[&str]) -> Plan {
    let max_len = hir.properties().maximum_len().unwrap_or(usize::MAX);
    let (first, _) = first(hir);
    let runs = best_runs(hir, 2).into_iter().map(Run::new).collect();
    let anchors = if max_len == usize::MAX {
        None
    } else {
        anchors(hir, words).map(coalesced)
    };
    Plan {
        runs,
        anchors,
        first,
        max_len,
    }
}

fn min_len(hir: &Hir) -> usize {
    hir.properties().minimum_len().unwrap_or(0)
}

fn max_len(hir: &Hir) -> Option<usize> {
    hir.properties().maximum_len()
}

fn bit(b: u8) -> ByteSet {
    if b < 128 {
        1 << b
    } else {
        0
    }
}

/// Whether `set` holds `b`.
pub fn has(set: ByteSet, b: u8) -> bool {
    b < 128 && (set >> b) & 1 == 1
}

/// The set of the bytes from `lo` to `hi`, those outside ASCII dropped.
fn range(lo: u32, hi: u32) -> ByteSet {
    let hi = hi.min(127);
    if lo > hi {
        return 0;
    }
    let width = hi - lo + 1;
    let ones = if width == 128 {
        ByteSet::MAX
    } else {
        (1u128 << width) - 1
    };
    ones << lo
}

fn class_set(class: &Class) -> ByteSet {
    match class {
        Class::Bytes(c) => c
            .ranges()
            .iter()
            .fold(0, |s, r| s | range(r.start().into(), r.end().into())),
        Class::Unicode(c) => c
            .ranges()
            .iter()
            .fold(0, |s, r| s | range(r.start().into(), r.end().into())),
    }
}

/// Every byte any match of `hir` can hold.
fn bytes(hir: &Hir) -> ByteSet {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => 0,
        HirKind::Literal(lit) => lit.0.iter().fold(0, |s, &b| s | bit(b)),
        HirKind::Class(class) => class_set(class),
        HirKind::Repetition(rep) => {
            if rep.max == Some(0) {
                0
            } else {
                bytes(&rep.sub)
            }
        }
        HirKind::Capture(cap) => bytes(&cap.sub),
        HirKind::Concat(subs) | HirKind::Alternation(subs) => {
            subs.iter().fold(0, |s, h| s | bytes(h))
        }
    }
}

/// The bytes a match of `hir` can begin with, and whether it can be empty.
fn first(hir: &Hir) -> (ByteSet, bool) {
    match hir.kind() {
        HirKind::Empty => (0, true),
        // Not in the subset; claim every byte.
        HirKind::Look(_) => (ByteSet::MAX, true),
        HirKind::Literal(lit) => match lit.0.first() {
            Some(&b) => (bit(b), false),
            None => (0, true),
        },
        HirKind::Class(class) => (class_set(class), false),
        HirKind::Repetition(rep) => {
            if rep.max == Some(0) {
                return (0, true);
            }
            let (set, empty) = first(&rep.sub);
            (set, empty || rep.min == 0)
        }
        HirKind::Capture(cap) => first(&cap.sub),
        HirKind::Concat(subs) => {
            let mut set = 0;
            for sub in subs {
                let (s, empty) = first(sub);
                set |= s;
                if !empty {
                    return (set, false);
                }
            }
            (set, true)
        }
        HirKind::Alternation(subs) => subs.iter().fold((0, false), |(set, empty), sub| {
            let (s, e) = first(sub);
            (set | s, empty || e)
        }),
    }
}

/// How much a run fact rules out, in prose (what most scanned text is): its
/// length times the bits of a byte's chance to be in the set, a space and
/// the lower-case letters counted as common, the rest as rare.
fn score(run: (ByteSet, usize)) -> f64 {
    let mut chance = 0.0;
    for b in 0..128u8 {
        if has(run.0, b) {
            chance += match b {
                b' ' => 0.17,
                b'a'..=b'z' => 0.03,
                b'.' | b',' | b'\n' => 0.01,
                b'A'..=b'Z' | b'0'..=b'9' => 0.002,
                _ => 0.001,
            };
        }
    }
    let chance: f64 = f64::min(chance, 0.999);
    run.1 as f64 * -chance.log2()
}

fn best(runs: &[(ByteSet, usize)]) -> Option<(ByteSet, usize)> {
    runs.iter()
        .copied()
        .max_by(|a, b| score(*a).total_cmp(&score(*b)))
}

/// Runs that every match of `hir` holds (some of them weak).
///
/// A match of any node is itself a run of its bytes at least its least length
/// long; so is a match of consecutive parts of a concatenation; a repetition
/// taken at least once holds what its body holds; an alternation holds the
/// weaker of its branches' best runs, over the union of their sets.
fn runs(hir: &Hir, out: &mut Vec<(ByteSet, usize)>) {
    out.push((bytes(hir), min_len(hir)));
    match hir.kind() {
        HirKind::Capture(cap) => runs(&cap.sub, out),
        HirKind::Repetition(rep) if rep.min >= 1 => runs(&rep.sub, out),
        HirKind::Concat(subs) => {
            for (i, sub) in subs.iter().enumerate() {
                runs(sub, out);
                let (mut set, mut len) = (0, 0);
                for later in &subs[i..] {
                    set |= bytes(later);
                    len += min_len(later);
                    out.push((set, len));
                }
            }
        }
        HirKind::Alternation(subs) => {
            let mut all: Option<(ByteSet, usize)> = None;
            for sub in subs {
                let mut found = Vec::new();
                runs(sub, &mut found);
                let Some(run) = best(&found) else {
                    return;
                };
                all = Some(match all {
                    None => run,
                    Some((set, len)) => (set | run.0, len.min(run.1)),
                });
            }
            out.extend(all);
        }
        _ => {}
    }
}

/// The most telling runs every match of `hir` holds, at most `count`, the
/// best first.
fn best_runs(hir: &Hir, count: usize) -> Vec<(ByteSet, usize)> {
    let mut all = Vec::new();
    runs(hir, &mut all);
    // Too common a run tells nothing and costs a look through the text.
    all.retain(|&r| r.1 > 0 && score(r) >= 6.0);
    all.sort_by(|a, b| score(*b).total_cmp(&score(*a)).then(b.cmp(a)));
    all.dedup();
    all.truncate(count);
    all
}

/// The most strings [`strings`] lists.
const STRINGS: usize = 64;

/// The strings, lower-cased, one of which every match of `hir` equals with
/// ASCII case ignored (at most [`STRINGS`]); `None` when they are more, or
/// not known.
fn strings(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    match hir.kind() {
        HirKind::Empty => Some(vec![Vec::new()]),
        HirKind::Literal(lit) => Some(vec![lit.0.to_ascii_lowercase()]),
        HirKind::Class(class) => {
            let set = class_set(class);
            let mut lowered: Vec<Vec<u8>> = Vec::new();
            for b in 0..128u8 {
                if has(set, b) {
                    let low = vec![b.to_ascii_lowercase()];
                    if !lowered.contains(&low) {
                        lowered.push(low);
                    }
                }
            }
            (lowered.len() <= 8).then_some(lowered)
        }
        HirKind::Capture(cap) => strings(&cap.sub),
        HirKind::Concat(subs) => {
            let mut all = vec![Vec::new()];
            for sub in subs {
                all = product(&all, &strings(sub)?)?;
            }
            Some(all)
        }
        HirKind::Alternation(subs) => {
            let mut all: Vec<Vec<u8>> = Vec::new();
            for sub in subs {
                for s in strings(sub)? {
                    if !all.contains(&s) {
                        all.push(s);
                    }
                }
            }
            (all.len() <= STRINGS).then_some(all)
        }
        HirKind::Repetition(rep) => {
            let max = rep.max?;
            if max > 8 {
                return None;
            }
            let body = strings(&rep.sub)?;
            let mut power = vec![Vec::new()];
            let mut all: Vec<Vec<u8>> = Vec::new();
            for count in 0..=max {
                if count >= rep.min {
                    for s in &power {
                        if !all.contains(s) {
                            all.push(s.clone());
                        }
                    }
                }
                if count < max {
                    power = product(&power, &body)?;
                }
            }
            (all.len() <= STRINGS).then_some(all)
        }
        HirKind::Look(_) => None,
    }
}

/// Each of `a` followed by each of `b`, without repeats; `None` past
/// [`STRINGS`].
fn product(a: &[Vec<u8>], b: &[Vec<u8>]) -> Option<Vec<Vec<u8>>> {
    if a.len().saturating_mul(b.len()) > STRINGS * 4 {
        return None;
    }
    let mut all: Vec<Vec<u8>> = Vec::new();
    for x in a {
        for y in b {
            let s = [x.as_slice(), y.as_slice()].concat();
            if !all.contains(&s) {
                all.push(s);
            }
        }
    }
    (all.len() <= STRINGS).then_some(all)
}

/// The anchors of a node that matches one of `strings`: in each, its longest
/// keyword, at its place; `None` if one holds no keyword.
fn in_strings(strings: &[Vec<u8>], words: &[&str]) -> Option<Vec<Anchor>> {
    let mut all: Vec<Anchor> = Vec::new();
    for s in strings {
        let a = in_string(s, words)?;
        if !all.contains(&a) {
            all.push(a);
        }
    }
    Some(all)
}

/// The longest of `words` in `s`, at its first place there, as an anchor.
fn in_string(s: &[u8], words: &[&str]) -> Option<Anchor> {
    let mut best: Option<(usize, Anchor)> = None;
    for (word, w) in words.iter().enumerate() {
        let w = w.as_bytes();
        if w.is_empty() || w.len() > s.len() || best.is_some_and(|(len, _)| len >= w.len()) {
            continue;
        }
        if let Some(at) = s.windows(w.len()).position(|x| x == w) {
            best = Some((
                w.len(),
                Anchor {
                    word,
                    lo: at,
                    hi: at,
                },
            ));
        }
    }
    best.map(|(_, a)| a)
}

/// How many start positions a set of anchors leaves per occurrence, the
/// shorter words counted as commoner.
fn cost(anchors: &[Anchor], words: &[&str]) -> f64 {
    anchors
        .iter()
        .map(|a| (a.hi - a.lo + 1) as f64 / words[a.word].len() as f64)
        .sum()
}

/// The same anchors, those of one word that overlap or touch made one.
fn coalesced(mut anchors: Vec<Anchor>) -> Vec<Anchor> {
    anchors.sort_by_key(|a| (a.word, a.lo, a.hi));
    let mut out: Vec<Anchor> = Vec::with_capacity(anchors.len());
    for a in anchors {
        match out.last_mut() {
            Some(last) if last.word == a.word && a.lo <= last.hi + 1 => {
                last.hi = last.hi.max(a.hi);
            }
            _ => out.push(a),
        }
    }
    out
}

fn shifted(anchors: Vec<Anchor>, lo: usize, hi: usize) -> Vec<Anchor> {
    anchors
        .into_iter()
        .map(|a| Anchor {
            word: a.word,
            lo: a.lo + lo,
            hi: a.hi + hi,
        })
        .collect()
}

/// Anchors that every match of `hir` holds one of, or `None`.
///
/// A node every match of which is one of a few strings (ASCII case aside)
/// holds, for each string, the longest keyword in it at its place; a
/// concatenation holds what any one of its parts holds (or a run of
/// consecutive parts taken as their strings), pushed back by the least and
/// the most the parts before it can take; a repetition taken at least once
/// holds what its body holds; an alternation holds one of the anchors of all
/// its branches, if every branch has some.
fn anchors(hir: &Hir, words: &[&str]) -> Option<Vec<Anchor>> {
    if let Some(all) = strings(hir) {
        return in_strings(&all, words);
    }
    match hir.kind() {
        HirKind::Capture(cap) => anchors(&cap.sub, words),
        HirKind::Repetition(rep) if rep.min >= 1 => anchors(&rep.sub, words),
        HirKind::Alternation(subs) => {
            let mut all: Vec<Anchor> = Vec::new();
            for sub in subs {
                for a in anchors(sub, words)? {
                    if !all.contains(&a) {
                        all.push(a);
                    }
                }
            }
            Some(all)
        }
        HirKind::Concat(subs) => {
            let mut best: Option<Vec<Anchor>> = None;
            let mut consider = |found: Vec<Anchor>| {
                if best
                    .as_ref()
                    .is_none_or(|b| cost(&found, words) < cost(b, words))
                {
                    best = Some(found);
                }
            };
            // Where the part `i` starts, at the least and at the most.
            let (mut lo, mut hi) = (0usize, Some(0usize));
            let mut i = 0;
            while i < subs.len() {
                let Some(at_most) = hi else { break };
                if let Some(first) = strings(&subs[i]) {
                    // The strings of this and the parts that follow, as far
                    // as they stay few.
                    let mut all = first;
                    let mut j = i + 1;
                    while j < subs.len() {
                        match strings(&subs[j]).and_then(|next| product(&all, &next)) {
                            Some(more) => all = more,
                            None => break,
                        }
                        j += 1;
                    }
                    if let Some(found) = in_strings(&all, words) {
                        consider(shifted(found, lo, at_most));
                    }
                    for sub in &subs[i..j] {
                        lo += min_len(sub);
                        hi = hi.zip(max_len(sub)).and_then(|(h, m)| h.checked_add(m));
                    }
                    i = j;
                    continue;
                }
                if let Some(found) = anchors(&subs[i], words) {
                    consider(shifted(found, lo, at_most));
                }
                lo += min_len(&subs[i]);
                hi = max_len(&subs[i]).and_then(|m| at_most.checked_add(m));
                i += 1;
            }
            best
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hir(pattern: &str) -> Hir {
        regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .build()
            .parse(pattern)
            .expect("a valid pattern")
    }

    fn set(chars: &str) -> ByteSet {
        chars.bytes().fold(0, |s, b| s | bit(b))
    }

    #[test]
    fn runs() {
        let p = plan(&hir("ghp_[A-Za-z0-9]{36}"), &["ghp_"]);
        let alnum = range(b'A'.into(), b'Z'.into())
            | range(b'a'.into(), b'z'.into())
            | range(b'0'.into(), b'9'.into());
        assert!(
            p.runs.contains(&Run::new((alnum | set("_"), 40))),
            "{:?}",
            p.runs
        );
        let p = plan(&hir("[a-z2-7]{52}"), &[]);
        assert_eq!(p.runs.iter().map(|r| r.len).max(), Some(52));
        // Branches: the weaker run over both sets.
        let p = plan(&hir("(?:[a-c]{8}|[0-9]{5})"), &[]);
        assert_eq!(p.runs, [Run::new((set("abc0123456789"), 5))]);
        // A part of a concatenation, rarer than the whole.
        let p = plan(&hir("(?:key|token)[ =:]{1,3}[0-9]{6}"), &[]);
        assert_eq!(p.runs[0], Run::new((set("0123456789"), 6)));
    }

    #[test]
    fn anchors_at_their_offsets() {
        let a = |word, lo, hi| Anchor { word, lo, hi };
        let p = plan(&hir("(?i:passwd|password)=[a-z]{4}"), &["passw", "pwd"]);
        assert_eq!(p.anchors, Some(vec![a(0, 0, 0)]));
        let p = plan(
            &hir("(?i:api[_.-]?key|secret)=[a-z]{4}"),
            &["key", "secret"],
        );
        assert_eq!(p.anchors, Some(vec![a(0, 3, 4), a(1, 0, 0)]));
        // Alternatives with a common beginning, as the parser factors them.
        let p = plan(
            &hir("(?i:passwd|password|passphrase|pwd)=[a-z]{4}"),
            &["passw", "passphrase", "pwd"],
        );
        assert_eq!(p.anchors, Some(vec![a(0, 0, 0), a(1, 0, 0), a(2, 0, 0)]));
        let p = plan(
            &hir(";[ \t]{0,2}(?i:password|pwd)=[a-z]{4}"),
            &["password", "pwd"],
        );
        assert_eq!(p.anchors, Some(vec![a(0, 1, 3), a(1, 1, 3)]));
        // Keywords are found with ASCII case ignored, in or out of (?i).
        let p = plan(&hir("[a-z]{0,3}[ \t]?TOGETHER[0-9]{2}"), &["together"]);
        assert_eq!(p.anchors, Some(vec![a(0, 0, 4)]));
        let p = plan(&hir("(?i)[a-z]{0,3}[ \t]?ToGether[0-9]{2}"), &["together"]);
        assert_eq!(p.anchors, Some(vec![a(0, 0, 4)]));
        // A class of two letters that are not one letter's cases is no string.
        let p = plan(&hir("[Kk][Ee][Yy]|[Kk][Ee][Yx]"), &["key"]);
        assert_eq!(p.anchors, None);
        // A branch without a keyword: no anchors.
        let p = plan(&hir("(?:key|tok)[0-9]{2}"), &["key"]);
        assert_eq!(p.anchors, None);
        // A keyword split over an optional part is not claimed.
        let p = plan(&hir("ke?y[0-9]"), &["key"]);
        assert_eq!(p.anchors, None);
        // A keyword across parts, one of them a group.
        let p = plan(&hir("[0-9]{2}k(?:e)y"), &["key"]);
        assert_eq!(p.anchors, Some(vec![a(0, 2, 2)]));
    }

    #[test]
    fn first_bytes() {
        assert_eq!(plan(&hir("(?i)ab"), &[]).first, set("aA"));
        assert_eq!(plan(&hir("x?[0-2]"), &[]).first, set("x012"));
        assert_eq!(plan(&hir("(?:a|b{0,2}c)d"), &[]).first, set("abc"));
        assert_eq!(plan(&hir("a{1,3}b"), &[]).max_len, 4);
    }
}
