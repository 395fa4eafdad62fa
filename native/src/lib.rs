//! `asgi_audit_native`: the compiled core of asgi_audit's secret scanner.
//!
//! The engine is [`scan`], plain Rust; the Python bindings are in this file,
//! behind the `python` feature (on by default, what maturin builds).

#[doc(hidden)]
pub mod oracle;
pub mod scan;
pub mod shapes;

/// The compiled core of asgi_audit's secret scanner: `Scanner`, the same
/// function as `asgi_audit.record.scanner.Scanner`. Optional: asgi_audit works
/// without it.
#[cfg(feature = "python")]
#[pyo3::pymodule]
mod asgi_audit_native {
    use pyo3::exceptions::PyValueError;
    use pyo3::prelude::*;

    use crate::scan::{Engine, RuleSpec};

    /// The distribution's version.
    #[allow(non_upper_case_globals)]
    #[pymodule_export]
    const __version__: &str = env!("CARGO_PKG_VERSION");

    /// The version of the semantics (see `asgi_audit.record.engine`).
    #[pymodule_export]
    const ENGINE: u32 = crate::scan::ENGINE;

    /// `asgi_audit.record.shapes.shape_spans(text, random)` as spans without
    /// names, sorted and without repeats; None where only the reference can
    /// decide. For the tests that hold the two alike; `text` must be ASCII.
    #[pyfunction]
    fn _shape_spans(text: &str, random: bool) -> PyResult<Option<Vec<(usize, usize)>>> {
        if !text.is_ascii() {
            return Err(PyValueError::new_err("_shape_spans takes ASCII text"));
        }
        Ok(crate::shapes::shape_spans(text.as_bytes(), random).map(|mut spans| {
            spans.sort_unstable();
            spans.dedup();
            spans
        }))
    }

    /// A rule table compiled for scanning: the same function as
    /// `asgi_audit.record.scanner.Scanner`, with offsets in code points.
    ///
    /// `rules` is a list of `(pattern, keywords, entropy, boundary)`. A pattern
    /// outside the subset, or a keyword that is not lower-case ASCII, raises
    /// ValueError. A `str` that UTF-8 cannot encode (a lone surrogate) raises
    /// UnicodeEncodeError. The scan runs without the GIL.
    #[pyclass(frozen, module = "asgi_audit_native")]
    struct Scanner {
        engine: Engine,
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
}
