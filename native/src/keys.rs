//! Which keys name a secret: the compiled form of
//! `asgi_audit.record.secretkeys` (`key_words`, `is_secret`), for ASCII keys.
//!
//! The secret words are the deployment's (joined, lower-case), given at
//! construction; the other word lists are the reference's and are checked
//! against it by the Python tests.

use std::collections::HashSet;

/// Last words that describe a secret instead of holding it.
const DESCRIPTIVE_LAST_WORDS: &[&str] = &[
    "count",
    "counts",
    "length",
    "len",
    "size",
    "type",
    "types",
    "kind",
    "policy",
    "url",
    "uri",
    "endpoint",
    "expires",
    "expiry",
    "expiration",
    "ttl",
    "age",
    "max",
    "min",
    "limit",
    "name",
    "field",
    "hint",
    "strength",
    "required",
    "enabled",
    "set",
    "present",
    "valid",
    "id",
    "ids",
    "method",
    "scheme",
    "mode",
    "status",
    "result",
    "provider",
    "at",
    "username",
    "email",
];

/// A dotted key ending in one of these is a file or a stack frame.
const FILE_SUFFIXES: &[&str] = &[
    "py",
    "pyc",
    "pyi",
    "java",
    "kt",
    "scala",
    "groovy",
    "js",
    "mjs",
    "cjs",
    "ts",
    "tsx",
    "jsx",
    "go",
    "rb",
    "rs",
    "cs",
    "c",
    "cc",
    "cpp",
    "h",
    "hpp",
    "swift",
    "php",
    "pl",
    "sh",
    "txt",
    "log",
    "md",
    "json",
    "yaml",
    "yml",
    "toml",
    "xml",
    "html",
    "cfg",
    "conf",
    "ini",
    "properties",
];

/// First words of an exception's class name that name a failure.
const FAILURE_FIRST_WORDS: &[&str] = &[
    "invalid",
    "missing",
    "expired",
    "bad",
    "wrong",
    "incorrect",
    "unknown",
    "failed",
    "revoked",
];

/// Last words that make a key secret whatever precedes them.
const SECRET_LAST_WORDS: &[&str] = &["sessionid", "sid", "csrftoken"];

/// Words before "tokens" that make a key a count of language-model tokens.
const TOKEN_COUNT_WORDS: &[&str] = &[
    "max",
    "min",
    "num",
    "n",
    "total",
    "prompt",
    "completion",
    "input",
    "output",
    "cached",
    "reasoning",
    "generated",
    "context",
    "remaining",
    "used",
];

/// Each word list by its name in `asgi_audit.record.secretkeys`.
pub const LISTS: [(&str, &[&str]); 5] = [
    ("_DESCRIPTIVE_LAST_WORDS", DESCRIPTIVE_LAST_WORDS),
    ("_FILE_SUFFIXES", FILE_SUFFIXES),
    ("_FAILURE_FIRST_WORDS", FAILURE_FIRST_WORDS),
    ("_SECRET_LAST_WORDS", SECRET_LAST_WORDS),
    ("_TOKEN_COUNT_WORDS", TOKEN_COUNT_WORDS),
];

/// The key decision over a deployment's secret words.
#[derive(Debug, Clone)]
pub struct Keys {
    secret: HashSet<String>,
}

impl Keys {
    /// `words`: the secret words, joined and lower-case.
    pub fn new<I: IntoIterator<Item = String>>(words: I) -> Keys {
        Keys {
            secret: words.into_iter().collect(),
        }
    }

    fn is_word(&self, word: &str) -> bool {
        self.secret.contains(word)
    }

    /// Whether a value under `key` (ASCII) is secret: `secretkeys.is_secret`.
    pub fn is_secret(&self, key: &[u8]) -> bool {
        if let Some(dot) = key.iter().rposition(|&b| b == b'.') {
            let tail = &key[dot + 1..];
            let lowered = tail.to_ascii_lowercase();
            if FILE_SUFFIXES
                .iter()
                .any(|s| s.as_bytes() == lowered.as_slice())
            {
                return false;
            }
            if is_class_name(tail) {
                let first = key_words(tail);
                if FAILURE_FIRST_WORDS.contains(&first[0].as_str()) {
                    return false;
                }
            }
        }
        let words = key_words(key);
        let Some(last) = words.last() else {
            return false;
        };
        let n = words.len();
        if SECRET_LAST_WORDS.contains(&last.as_str())
            || (n >= 2 && words[n - 2].len() + last.len() == 9 && {
                let joined = [words[n - 2].as_str(), last.as_str()].concat();
                joined == "sessionid"
            })
        {
            return true;
        }
        if n > 1 && DESCRIPTIVE_LAST_WORDS.contains(&last.as_str()) {
            return false;
        }
        let mut pair = String::new();
        for (i, w) in words.iter().enumerate() {
            if self.is_word(w) {
                return true;
            }
            if i + 1 < n {
                pair.clear();
                pair.push_str(w);
                pair.push_str(&words[i + 1]);
                if self.is_word(&pair) {
                    return true;
                }
                // A vendor glued to "api" in a lower-case header: x-rapidapi-key.
                if words[i + 1] == "key" && w.ends_with("api") {
                    return true;
                }
            }
        }
        if self.is_word(&words.concat()) {
            return true;
        }
        let Some(single) = singular(last) else {
            return false;
        };
        if single == "token" && n > 1 && TOKEN_COUNT_WORDS.contains(&words[n - 2].as_str()) {
            return false;
        }
        if self.is_word(single) {
            return true;
        }
        if n > 1 {
            pair.clear();
            pair.push_str(&words[n - 2]);
            pair.push_str(single);
            return self.is_word(&pair);
        }
        false
    }
}

/// The singular of a plural word (`passwords` -> `password`).
fn singular(word: &str) -> Option<&str> {
    (word.len() > 3 && word.ends_with('s') && !word.ends_with("ss"))
        .then(|| &word[..word.len() - 1])
}

/// `[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]+)+`, the whole of `tail`.
fn is_class_name(tail: &[u8]) -> bool {
    let mut parts = 0;
    let mut i = 0;
    while i < tail.len() {
        if !tail[i].is_ascii_uppercase() {
            return false;
        }
        let start = i + 1;
        i = start;
        while i < tail.len() && (tail[i].is_ascii_lowercase() || tail[i].is_ascii_digit()) {
            i += 1;
        }
        if i == start {
            return false;
        }
        parts += 1;
    }
    parts >= 2
}

/// A key split into lower-case words, as `secretkeys.key_words` splits it with
/// `[A-Z]{2,}s(?![a-z])|[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+`.
pub fn key_words(key: &[u8]) -> Vec<String> {
    let size = key.len();
    let run =
        |from: usize, test: fn(&u8) -> bool| key[from..].iter().take_while(|b| test(b)).count();
    let lower_at = |at: usize| at < size && key[at].is_ascii_lowercase();
    let mut words = Vec::new();
    let mut p = 0;
    while p < size {
        let b = key[p];
        let len = if b.is_ascii_uppercase() {
            let upper = run(p, u8::is_ascii_uppercase);
            if upper >= 2 && key.get(p + upper) == Some(&b's') && !lower_at(p + upper + 1) {
                upper + 1
            } else if !lower_at(p + upper) {
                upper
            } else if upper >= 2 {
                upper - 1
            } else {
                // One capital, then lower case: a capitalised word.
                1 + run(p + 1, u8::is_ascii_lowercase)
            }
        } else if b.is_ascii_lowercase() {
            run(p, u8::is_ascii_lowercase)
        } else if b.is_ascii_digit() {
            run(p, u8::is_ascii_digit)
        } else {
            0
        };
        if len == 0 {
            p += 1;
        } else {
            words.push(String::from_utf8_lossy(&key[p..p + len]).to_ascii_lowercase());
            p += len;
        }
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys::new(["password", "token", "apikey", "secret"].map(String::from))
    }

    #[test]
    fn words_split_as_the_reference_splits_them() {
        assert_eq!(key_words(b"apiKey"), ["api", "key"]);
        assert_eq!(key_words(b"APIKey"), ["api", "key"]);
        assert_eq!(key_words(b"tokenIDs"), ["token", "ids"]);
        assert_eq!(key_words(b"x-api-key_2"), ["x", "api", "key", "2"]);
        assert_eq!(key_words(b"URLsX"), ["urls", "x"]);
    }

    #[test]
    fn decisions() {
        let k = keys();
        assert!(k.is_secret(b"user_password"));
        assert!(k.is_secret(b"apiKey"));
        assert!(k.is_secret(b"refresh_tokens"));
        assert!(k.is_secret(b"X-Session-ID"));
        assert!(k.is_secret(b"x-rapidapi-key"));
        assert!(!k.is_secret(b"token_count"));
        assert!(!k.is_secret(b"max_tokens"));
        assert!(!k.is_secret(b"tokenizer"));
        assert!(!k.is_secret(b"secrets.py"));
        assert!(!k.is_secret(b"auth.errors.InvalidToken"));
        assert!(k.is_secret(b"RevokedToken"));
    }
}
