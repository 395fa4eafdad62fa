//! A text (any bytes, made UTF-8 lossily) scanned with one of a few rule
//! tables: the engine's hits are the slow implementation's, the code-point
//! offsets count the characters before them, and the mask is the text spliced
//! at the merged spans.

#![no_main]

use asgi_audit_native::oracle::Oracle;
use asgi_audit_native::scan::{merge, Engine, RuleSpec};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn rule(pattern: &str, keywords: &[&str], entropy: f64, boundary: bool) -> RuleSpec {
    RuleSpec {
        pattern: pattern.into(),
        keywords: keywords.iter().map(|k| k.to_string()).collect(),
        entropy,
        boundary,
    }
}

fn tables() -> &'static [(Engine, Oracle)] {
    static TABLES: OnceLock<Vec<(Engine, Oracle)>> = OnceLock::new();
    TABLES.get_or_init(|| {
        let tables = vec![
            vec![
                rule("ghp_[A-Za-z0-9]{36}", &["ghp_"], 3.0, true),
                rule(
                    "(?i)(?:key|token)=(?P<secret>[A-Za-z0-9]{4,12})",
                    &["key", "token"],
                    1.0,
                    true,
                ),
                rule("[A-Za-z0-9]{12,16}", &[], 3.0, true),
            ],
            vec![
                rule("(?:api|kid)[0-9]{2}", &["api"], 0.0, false),
                rule("(?:ki|zz)_[a-c]{1,3}?", &["ki"], 0.0, true),
                rule("[a-c]{3}", &[], 1.5, false),
                rule("x(?P<secret>y)?z", &["xz", "xyz"], 0.0, false),
            ],
            vec![
                rule("(?i:ab|c{2})[0-9_]{1,3}", &[], 0.0, true),
                rule("\\-\\.(?P<secret>[!-/]{2,4})", &["-."], 1.0, false),
                rule("[\\d\\s]{2}", &[], 0.9, false),
            ],
        ];
        tables
            .into_iter()
            .map(|rules| {
                (
                    Engine::new(&rules).expect("valid rules"),
                    Oracle::new(&rules),
                )
            })
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let (engine, oracle) = &tables()[usize::from(pick) % tables().len()];
    let text = String::from_utf8_lossy(rest);
    let hits = engine.hits(&text);
    assert_eq!(hits, oracle.hits(&text));
    let chars = engine.hits_chars(&text);
    for (&(s, e, r), &(cs, ce, cr)) in hits.iter().zip(&chars) {
        assert_eq!(
            (text[..s].chars().count(), text[..e].chars().count(), r),
            (cs, ce, cr)
        );
    }
    let mut expected = String::new();
    let mut pos = 0;
    for (s, e) in merge(&hits) {
        expected.push_str(&text[pos..s]);
        expected.push('*');
        pos = e;
    }
    expected.push_str(&text[pos..]);
    assert_eq!(engine.mask(&text, "*"), expected);
});
