//! The capture of an event's fields on the caller's side, compiled: the same
//! functions as `asgi_audit.record.capture` (`snapshot`, `own_fields`,
//! `named_fields`), which are the reference.
//!
//! The caller may change a container it passed after the call returns, and the
//! writer reads the event later, so every container (an exact `dict`, `list`,
//! `tuple`, `set` or `frozenset`) is copied at capture, to a depth of 8; `dict`s
//! stay `dict`s, the others become `list`s, and leaves are shared. This runs
//! with the GIL held, on every event, and calls no Python code but a key's
//! `__hash__` (as the reference does when it builds a dict).
//!
//! One difference from the reference, in a case no caller makes on purpose: a
//! dict changed while it is copied (by a key's `__hash__`, or by another thread
//! between two steps of the reference) is copied from its items as they were,
//! where the reference may raise `RuntimeError` or copy one container before
//! the change and the next after it. Each container is copied in
//! one C call (`PyDict_Copy`, `PySequence_List`) that no other thread can
//! interleave with.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFrozenSet, PyList, PySet, PyTuple};

/// How deep containers are copied, as the reference's `snapshot`.
pub const DEPTH: u32 = 8;

/// Whether `value` is a container the capture copies: an exact `dict`, `list`,
/// `tuple`, `set` or `frozenset` (a subclass is a leaf, as in the reference).
fn is_container(value: &Bound<'_, PyAny>) -> bool {
    value.is_exact_instance_of::<PyDict>()
        || value.is_exact_instance_of::<PyList>()
        || value.is_exact_instance_of::<PyTuple>()
        || value.is_exact_instance_of::<PySet>()
        || value.is_exact_instance_of::<PyFrozenSet>()
}

/// `value` copied as the reference's `snapshot(value, depth)` copies it: the
/// container itself at once in C (a dict's `copy`, the others' `list`), then
/// the containers in it, found before any is copied, replaced by their copies.
fn snapshot<'py>(value: &Bound<'py, PyAny>, depth: u32) -> PyResult<Bound<'py, PyAny>> {
    if depth == 0 {
        return Ok(value.clone());
    }
    if let Ok(dict) = value.cast_exact::<PyDict>() {
        let copy = dict.copy()?;
        if depth > 1 {
            own_at(&copy, depth - 1)?;
        }
        return Ok(copy.into_any());
    }
    // Any other container (a list, tuple, set or frozenset) becomes a list.
    if is_container(value) {
        let py = value.py();
        // SAFETY: `value` is a live object while the GIL is held; PySequence_List
        // returns a new reference or NULL with an exception set.
        let copy = unsafe {
            Bound::from_owned_ptr_or_err(py, pyo3::ffi::PySequence_List(value.as_ptr()))?
        }
        .cast_into::<PyList>()?;
        if depth > 1 {
            let nested: Vec<(usize, Bound<'py, PyAny>)> = copy
                .iter()
                .enumerate()
                .filter(|(_, item)| is_container(item))
                .collect();
            for (index, item) in nested {
                copy.set_item(index, snapshot(&item, depth - 1)?)?;
            }
        }
        return Ok(copy.into_any());
    }
    Ok(value.clone())
}

/// Each container value of `fields` replaced, in place, by its copy to `depth`
/// levels; the containers are found before any is copied.
fn own_at(fields: &Bound<'_, PyDict>, depth: u32) -> PyResult<()> {
    let nested: Vec<_> = fields
        .iter()
        .filter(|(_, value)| is_container(value))
        .collect();
    for (key, value) in nested {
        fields.set_item(key, snapshot(&value, depth)?)?;
    }
    Ok(())
}

/// `fields` with each container value replaced by its copy, in place; the
/// reference's `own_fields`.
fn own(fields: &Bound<'_, PyDict>) -> PyResult<()> {
    own_at(fields, DEPTH)
}

pub(crate) mod py {
    use super::*;

    /// `asgi_audit.record.capture.untrack_event`: a queued event (a `RawEvent`)
    /// and its fields dict taken out of the garbage collector's sight; nothing
    /// for an event with an exception (its traceback's frames may refer back).
    ///
    /// An event waits for the writer for milliseconds, long enough to be
    /// alive at a collection of the collector's middle generation, which moves
    /// it to the oldest: enough of those start a full collection, which walks
    /// every object of the process with the loop stopped. Neither object can
    /// be part of a cycle: the tuple is made by the capture and held only by
    /// the stream and the writer, the dict is the capture's own (a method's
    /// keyword arguments, or a copy), and what they refer to stays tracked, so
    /// the collector still sees it (a reference from an untracked object
    /// counts as one from outside). A dict that later takes a container is
    /// tracked again by CPython itself.
    #[pyfunction]
    pub fn untrack_event(raw: &Bound<'_, PyAny>) -> PyResult<()> {
        // Anything but an event's eight-item tuple is left as it is.
        let Ok(raw) = raw.cast::<PyTuple>() else {
            return Ok(());
        };
        if raw.len() != 8 || !raw.get_item(6)?.is_none() {
            return Ok(());
        }
        let fields = raw.get_item(5)?;
        // SAFETY: both are live objects of types the collector tracks (a tuple,
        // an exact dict); untracking one that is not tracked does nothing.
        unsafe {
            if fields.is_exact_instance_of::<PyDict>() {
                pyo3::ffi::PyObject_GC_UnTrack(fields.as_ptr().cast());
            }
            pyo3::ffi::PyObject_GC_UnTrack(raw.as_ptr().cast());
        }
        Ok(())
    }

    /// `asgi_audit.record.capture.own_fields`: `fields` itself, each container
    /// value replaced by its copy.
    #[pyfunction]
    pub fn own_fields<'py>(fields: Bound<'py, PyDict>) -> PyResult<Bound<'py, PyDict>> {
        own(&fields)?;
        Ok(fields)
    }

    /// `asgi_audit.record.capture.named_fields`: a method's fields, the caller's
    /// extra ones (`fields`) first, then the method's own (`named`), then
    /// `details`, each container copied.
    #[pyfunction]
    pub fn named_fields<'py>(
        fields: Bound<'py, PyDict>,
        named: Bound<'py, PyDict>,
        details: Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let target = if fields.is_empty() {
            named
        } else {
            fields.update(named.as_mapping())?;
            fields
        };
        own(&target)?;
        let py = target.py();
        let details = if details.is_none() {
            details
        } else {
            snapshot(&details, DEPTH)?
        };
        target.set_item(pyo3::intern!(py, "details"), details)?;
        Ok(target)
    }
}
