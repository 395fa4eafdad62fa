//! `asgi_audit_native`: the compiled core of asgi_audit's secret scanner.
//!
//! The engine is [`scan`], plain Rust; the Python bindings are in this file,
//! behind the `python` feature (on by default, what maturin builds).

pub mod append;
#[cfg(feature = "python")]
mod capture;
pub mod event;
pub mod group;
pub mod json;
pub mod keys;
#[doc(hidden)]
pub mod oracle;
pub mod pairs;
pub mod pipeline;
mod plan;
#[cfg(feature = "python")]
mod py_lane;
#[cfg(feature = "python")]
mod py_pipeline;
pub mod redact;
pub mod scan;
pub mod seal;
pub mod shapes;
pub mod uuid7;

/// The compiled core of asgi_audit's secret scanner: `Scanner`, the same
/// function as `asgi_audit.record.scanner.Scanner`. Optional: asgi_audit works
/// without it.
#[cfg(feature = "python")]
#[pyo3::pymodule]
mod asgi_audit_native {
    use pyo3::exceptions::PyValueError;
    use pyo3::prelude::*;

    use std::panic::AssertUnwindSafe;

    use crate::keys::Keys;
    use crate::redact::Redaction;
    use crate::scan::{Engine, RuleSpec};

    /// The distribution's version.
    #[allow(non_upper_case_globals)]
    #[pymodule_export]
    const __version__: &str = env!("CARGO_PKG_VERSION");

    /// The version of the semantics (see `asgi_audit.record.engine`).
    #[pymodule_export]
    const ENGINE: u32 = crate::scan::ENGINE;

    /// The version of the sealing format (see `asgi_audit.record.engine`).
    #[pymodule_export]
    const SEAL: u32 = crate::seal::SEAL;

    /// Sealing lines, as `asgi_audit.proof.integrity.Chain.seal` (`seal.rs`).
    #[pymodule_export]
    use crate::seal::py::Sealer;

    /// A batch appended to its file under the lock without the GIL (`append.rs`).
    #[pymodule_export]
    use crate::append::py::append_locked;

    /// The capture of a method's fields on the caller's side (`capture.rs`).
    #[pymodule_export]
    use crate::capture::py::{named_fields, own_fields, untrack_event};

    /// The writer's per-event pipeline and the event ids (`pipeline.rs`, `py_pipeline.rs`).
    #[pymodule_export]
    use crate::py_pipeline::{Pipeline, Uuid7Generator};

    /// The version of the writer's lane: 2, a job may continue the run of the
    /// ones before it (`py_lane.rs`).
    #[pymodule_export]
    const LANE: u32 = 2;

    /// The writer's lane: batches appended by a thread that never takes the GIL (`py_lane.rs`).
    #[pymodule_export]
    use crate::py_lane::{Job, Lane};

    /// `asgi_audit.record.shapes.shape_spans(text, random)` as spans without
    /// names, sorted and without repeats; None where only the reference can
    /// decide. For the tests that hold the two alike; `text` must be ASCII.
    #[pyfunction]
    fn _shape_spans(text: &str, random: bool) -> PyResult<Option<Vec<(usize, usize)>>> {
        if !text.is_ascii() {
            return Err(PyValueError::new_err("_shape_spans takes ASCII text"));
        }
        Ok(
            crate::shapes::shape_spans(text.as_bytes(), random).map(|mut spans| {
                spans.sort_unstable();
                spans.dedup();
                spans
            }),
        )
    }

    /// `asgi_audit.record.pairs.pair_spans(text, is_secret)` with the key
    /// decision over the secret `words`, as spans without names, in order found.
    /// For the tests that hold the two alike; `text` must be ASCII.
    #[pyfunction]
    fn _pair_spans(text: &str, words: Vec<String>) -> PyResult<Vec<(usize, usize)>> {
        by_key(text, words, crate::pairs::pair_spans)
    }

    /// `asgi_audit.record.pairs.flag_spans(text, is_secret)`, as `_pair_spans`.
    #[pyfunction]
    fn _flag_spans(text: &str, words: Vec<String>) -> PyResult<Vec<(usize, usize)>> {
        by_key(text, words, crate::pairs::flag_spans)
    }

    /// The word lists of the key decision, by the names they have in
    /// `asgi_audit.record.secretkeys`, for the test that holds them alike.
    #[pyfunction]
    fn _key_lists() -> Vec<(&'static str, Vec<&'static str>)> {
        crate::keys::LISTS
            .iter()
            .map(|(name, words)| (*name, words.to_vec()))
            .collect()
    }

    type Finder = fn(&[u8], &dyn Fn(&[u8]) -> bool, &mut Vec<(usize, usize)>);

    fn by_key(text: &str, words: Vec<String>, find: Finder) -> PyResult<Vec<(usize, usize)>> {
        if !text.is_ascii() {
            return Err(PyValueError::new_err("takes ASCII text"));
        }
        let keys = Keys::new(words);
        let mut out = Vec::new();
        find(text.as_bytes(), &|key| keys.is_secret(key), &mut out);
        Ok(out)
    }

    /// A rule table compiled for scanning: the same function as
    /// `asgi_audit.record.scanner.Scanner`, with offsets in code points.
    ///
    /// `rules` is a list of `(pattern, keywords, entropy, boundary)`. A pattern
    /// outside the subset, or a keyword that is not lower-case ASCII, raises
    /// ValueError. A `str` that UTF-8 cannot encode (a lone surrogate) raises
    /// UnicodeEncodeError. The scan runs without the GIL.
    #[pyclass(frozen, module = "asgi_audit_native")]
    pub(crate) struct Scanner {
        pub(crate) engine: Engine,
    }

    #[pymethods]
    impl Scanner {
        #[new]
        fn new(rules: Vec<(String, Vec<String>, f64, bool)>) -> PyResult<Self> {
            let specs: Vec<RuleSpec> = rules
                .into_iter()
                .map(|(pattern, keywords, entropy, boundary)| RuleSpec {
                    pattern,
                    keywords,
                    entropy,
                    boundary,
                })
                .collect();
            let engine = Engine::new(&specs).map_err(PyValueError::new_err)?;
            Ok(Scanner { engine })
        }

        /// Every secret in `text`: `(start, end, rule index)`, `str` indexes,
        /// sorted.
        fn hits(&self, py: Python<'_>, text: &str) -> Vec<(usize, usize, usize)> {
            let text = text.to_owned();
            let engine = &self.engine;
            py.detach(move || engine.hits_chars(&text))
        }

        /// `text` with every secret replaced by `mask`, the spans merged first.
        fn mask(&self, py: Python<'_>, text: &str, mask: &str) -> String {
            let (text, mask) = (text.to_owned(), mask.to_owned());
            let engine = &self.engine;
            py.detach(move || engine.mask(&text, &mask))
        }

        /// The number of rules.
        fn __len__(&self) -> usize {
            self.engine.len()
        }
    }

    /// One string's whole redaction, the same function as
    /// `asgi_audit.record.redaction.Redactor.redact_text` on ASCII text: the
    /// shapes, the scanner's rules, the pairs and flags whose key is secret, on
    /// the text and its percent-decoded view, the spans grown to their tokens
    /// and masked. The work runs without the GIL.
    ///
    /// `scanner` is the compiled rule table, `words` the secret words (joined,
    /// lower-case), `mask` the replacement text.
    #[pyclass(frozen, module = "asgi_audit_native")]
    pub(crate) struct Redactor {
        pub(crate) scanner: Py<Scanner>,
        pub(crate) keys: Keys,
        pub(crate) mask: String,
    }

    #[pymethods]
    impl Redactor {
        #[new]
        fn new(scanner: Py<Scanner>, words: Vec<String>, mask: String) -> Self {
            Redactor {
                scanner,
                keys: Keys::new(words),
                mask,
            }
        }

        /// `text` with its secrets masked, or None when it holds none.
        /// ValueError when `text` is not ASCII, or when only the reference can
        /// decide (a base64 run that decodes to text outside ASCII).
        fn redact(&self, py: Python<'_>, text: &str) -> PyResult<Option<String>> {
            if !text.is_ascii() {
                return Err(PyValueError::new_err("Redactor.redact takes ASCII text"));
            }
            let text = text.to_owned();
            let redaction = Redaction {
                engine: &self.scanner.get().engine,
                keys: &self.keys,
            };
            let mask = self.mask.as_str();
            // A panic here would reach Python as a BaseException that no event
            // handler catches: it is turned into "the reference decides".
            py.detach(move || {
                std::panic::catch_unwind(AssertUnwindSafe(|| redaction.redact(&text, mask)))
                    .ok()
                    .flatten()
            })
            .ok_or_else(|| PyValueError::new_err("only the reference can decide"))
        }

        /// The merged spans `redact` masks (`Redactor.spans`); None where only
        /// the reference can decide.
        fn spans(&self, text: &str) -> PyResult<Option<Vec<(usize, usize)>>> {
            if !text.is_ascii() {
                return Err(PyValueError::new_err("Redactor.spans takes ASCII text"));
            }
            let redaction = Redaction {
                engine: &self.scanner.get().engine,
                keys: &self.keys,
            };
            Ok(
                std::panic::catch_unwind(AssertUnwindSafe(|| redaction.spans(text)))
                    .ok()
                    .flatten(),
            )
        }

        /// Whether a value under `key` (ASCII) is masked whole.
        fn is_secret_key(&self, key: &str) -> bool {
            self.keys.is_secret(key.as_bytes())
        }
    }
}
