//! The Python bindings of the pipeline ([`crate::pipeline`]) and of the event
//! ids ([`crate::uuid7`]): `Pipeline` and `Uuid7Generator`.
//!
//! A batch's events are read into plain Rust values while the GIL is held; an
//! event holding anything else (an object, a subclass, a lone surrogate, an int
//! outside the reference's range, an exception, nesting too deep) is left to the
//! reference. The rest of the batch then runs without the GIL.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use pyo3::IntoPyObjectExt;

use crate::asgi_audit_native::Redactor;
use crate::event::{RawEvent, CONTEXT_FIELDS, MAX_TIME_NS};
use crate::group::{group, Chained, Group};
use crate::json::{Map, Value, INT_MAX, INT_MIN};
use crate::pipeline::{
    encode_batch, encode_from, seqs_after, Caches, Config, Pipeline as Core, Redact, Session, Stamp,
};
use crate::py_lane::{FileArgs, Job, Lane};
use crate::redact::Redaction;
use crate::seal::py::{frontier, store, Sealer as PySealer};
use crate::uuid7::{format_id, to_int, when_of, Uuid7};

/// Containers nested deeper than this are the reference's (its limit is 12).
const MAX_NESTING: u32 = 14;

/// The event ids' generator: `asgi_audit.record.events.Uuid7Generator`, compiled;
/// one is shared by a `Pipeline` and the Python code that draws ids beside it.
#[pyclass(frozen, module = "asgi_audit_native")]
pub struct Uuid7Generator {
    state: Arc<Mutex<Uuid7>>,
}

fn lock(state: &Mutex<Uuid7>) -> std::sync::MutexGuard<'_, Uuid7> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The 60 time bits of `time_ns`, any Python int (or what divides like one).
fn when_of_py(time_ns: &Bound<'_, PyAny>) -> PyResult<u64> {
    if let Ok(t) = time_ns.extract::<i64>() {
        return Ok(when_of(i128::from(t)));
    }
    let millis = time_ns
        .call_method1("__floordiv__", (1_000_000,))?
        .call_method1("__and__", (0xFFFF_FFFF_FFFFu64,))?
        .extract::<u64>()?;
    let sub = time_ns
        .call_method1("__mod__", (1_000_000,))?
        .extract::<u64>()?;
    Ok((millis << 12) | (sub * 4096 / 1_000_000))
}

#[pymethods]
impl Uuid7Generator {
    #[new]
    fn create() -> Self {
        Uuid7Generator {
            state: Arc::new(Mutex::new(Uuid7::new())),
        }
    }

    /// A new id for `time_ns` in the canonical 8-4-4-4-12 form.
    #[pyo3(name = "new")]
    fn new_id(&self, time_ns: &Bound<'_, PyAny>) -> PyResult<String> {
        let when = when_of_py(time_ns)?;
        let (when, rand) = lock(&self.state).next_at(when);
        Ok(format_id(when, rand))
    }

    /// The 128-bit value of a new id for `time_ns`.
    fn new_int(&self, time_ns: &Bound<'_, PyAny>) -> PyResult<u128> {
        let when = when_of_py(time_ns)?;
        let (when, rand) = lock(&self.state).next_at(when);
        Ok(to_int(when, rand))
    }
}

/// Strong references to every Python string a batch's values borrow.
///
/// A `str` is immutable, and the UTF-8 bytes `to_str` gives (its own data, or
/// the UTF-8 form it caches) live as long as the object; the arena keeps each
/// object alive until it is dropped, and a text borrowed through it cannot
/// outlive it. So the caller's strings are read without a copy, and a caller
/// that changes its dict meanwhile (from another thread) changes nothing here.
pub(crate) struct Arena<'py> {
    pub(crate) strings: RefCell<Vec<Bound<'py, PyString>>>,
}

impl<'py> Arena<'py> {
    pub(crate) fn new() -> Self {
        Arena {
            strings: RefCell::new(Vec::with_capacity(4096)),
        }
    }

    /// The text of an exact `str` (None: a subclass, or not UTF-8: a lone surrogate).
    fn text<'a>(&'a self, obj: &Bound<'py, PyAny>) -> Option<&'a str> {
        let string = obj.cast_exact::<PyString>().ok()?;
        let text = string.to_str().ok()?;
        let (ptr, len) = (text.as_ptr(), text.len());
        self.strings.borrow_mut().push(string.clone());
        // SAFETY: the bytes belong to the str object (see the type), which the
        // arena now holds a strong reference to until it is dropped; `'a`
        // borrows the arena, so the text cannot outlive that reference.
        Some(unsafe { std::str::from_utf8_unchecked(std::slice::from_raw_parts(ptr, len)) })
    }

    /// A plain value, or None where the reference must take it.
    fn value<'a>(&'a self, obj: &Bound<'py, PyAny>, depth: u32) -> Option<Value<'a>> {
        if obj.is_none() {
            return Some(Value::Null);
        }
        if obj.is_exact_instance_of::<PyString>() {
            return self.text(obj).map(Value::str);
        }
        if let Ok(b) = obj.cast_exact::<PyBool>() {
            return Some(Value::Bool(b.is_true()));
        }
        if obj.is_exact_instance_of::<PyInt>() {
            let int = match obj.extract::<i64>() {
                Ok(i) => i128::from(i),
                Err(_) => i128::from(obj.extract::<u64>().ok()?),
            };
            return (INT_MIN..=INT_MAX)
                .contains(&int)
                .then_some(Value::Int(int));
        }
        if let Ok(f) = obj.cast_exact::<PyFloat>() {
            return Some(Value::Float(f.value()));
        }
        if depth == 0 {
            return None;
        }
        if let Ok(d) = obj.cast_exact::<PyDict>() {
            return self.map(d, depth - 1).map(Value::Dict);
        }
        if let Ok(l) = obj.cast_exact::<PyList>() {
            let mut items = Vec::with_capacity(l.len());
            for item in l.iter() {
                items.push(self.value(&item, depth - 1)?);
            }
            return Some(Value::List(items));
        }
        if let Ok(t) = obj.cast_exact::<PyTuple>() {
            let mut items = Vec::with_capacity(t.len());
            for item in t.iter() {
                items.push(self.value(&item, depth - 1)?);
            }
            return Some(Value::List(items));
        }
        None
    }

    fn map<'a>(&'a self, d: &Bound<'py, PyDict>, depth: u32) -> Option<Map<'a>> {
        let mut map = Map::with_capacity(d.len());
        for (k, v) in d.iter() {
            let key = self.text(&k)?;
            map.0.push((key.into(), self.value(&v, depth)?));
        }
        Some(map)
    }
}

/// A request context's values in [`CONTEXT_FIELDS`] order, or None where the
/// reference must take them.
type Context<'a> = Arc<Vec<Option<Value<'a>>>>;

/// Reads a batch's events; the context of consecutive events of one request
/// is read once.
struct Reader<'a, 'py> {
    arena: &'a Arena<'py>,
    names: Vec<Bound<'py, PyString>>,
    last: Option<(Bound<'py, PyAny>, Option<Context<'a>>)>,
}

impl<'a, 'py> Reader<'a, 'py> {
    fn new(py: Python<'py>, arena: &'a Arena<'py>) -> Self {
        Reader {
            arena,
            names: CONTEXT_FIELDS
                .iter()
                .map(|n| PyString::intern(py, n))
                .collect(),
            last: None,
        }
    }

    fn context(&mut self, ctx: &Bound<'py, PyAny>) -> Option<Context<'a>> {
        if let Some((seen, values)) = &self.last {
            if seen.is(ctx) {
                return values.clone();
            }
        }
        let arena = self.arena;
        let read = || -> Option<Context<'a>> {
            let mut values = Vec::with_capacity(CONTEXT_FIELDS.len());
            for name in &self.names {
                let value = ctx.getattr(name).ok()?;
                values.push(if value.is_none() {
                    None
                } else {
                    Some(arena.value(&value, MAX_NESTING)?)
                });
            }
            Some(Arc::new(values))
        };
        let values = read();
        self.last = Some((ctx.clone(), values.clone()));
        values
    }

    /// A `RawEvent` as plain values, or None where the reference must take it.
    fn raw(&mut self, raw: &Slots<'py>) -> Option<RawEvent<'a>> {
        if !raw.get(EXCEPTION).ok()?.is_none() {
            return None; // its stack trace is Python's to format
        }
        let time_ns = raw.get(TIME_NS).ok()?;
        if !time_ns.is_exact_instance_of::<PyInt>() {
            return None;
        }
        let time_ns = i128::from(time_ns.extract::<i64>().ok()?);
        if !(0..=MAX_TIME_NS).contains(&time_ns) {
            return None;
        }
        let arena = self.arena;
        let outcome = raw.get(OUTCOME).ok()?;
        let outcome = if outcome.is_none() {
            None
        } else {
            Some(arena.value(&outcome, MAX_NESTING)?)
        };
        let ctx = raw.get(CONTEXT).ok()?;
        let context = if ctx.is_none() {
            None
        } else {
            Some(self.context(&ctx)?)
        };
        let fields = raw.get(FIELDS).ok()?;
        Some(RawEvent {
            category: arena.text(&raw.get(CATEGORY).ok()?)?,
            event_type: arena.text(&raw.get(EVENT_TYPE).ok()?)?,
            outcome,
            time_ns,
            context,
            fields: arena.map(fields.cast_exact::<PyDict>().ok()?, MAX_NESTING)?,
        })
    }
}

/// `RawEvent`'s fields in their order.
const NAMES: [&str; 8] = [
    "category",
    "event_type",
    "outcome",
    "time_ns",
    "context",
    "fields",
    "exception",
    "durable",
];
const CATEGORY: usize = 0;
const EVENT_TYPE: usize = 1;
const OUTCOME: usize = 2;
const TIME_NS: usize = 3;
const CONTEXT: usize = 4;
const FIELDS: usize = 5;
const EXCEPTION: usize = 6;
const DURABLE: usize = 7;

/// One `RawEvent`'s fields: by index, as the named tuple it is (no attribute
/// lookup), or by name for any other object.
struct Slots<'py> {
    object: Bound<'py, PyAny>,
    tuple: Option<Bound<'py, PyTuple>>,
    /// [`NAMES`], interned.
    names: Rc<Vec<Bound<'py, PyString>>>,
}

impl<'py> Slots<'py> {
    fn new(object: Bound<'py, PyAny>, names: &Rc<Vec<Bound<'py, PyString>>>) -> Self {
        let tuple = object
            .cast::<PyTuple>()
            .ok()
            .filter(|t| t.len() == NAMES.len())
            .cloned();
        Slots {
            object,
            tuple,
            names: Rc::clone(names),
        }
    }

    fn get(&self, index: usize) -> PyResult<Bound<'py, PyAny>> {
        match &self.tuple {
            Some(tuple) => tuple.get_item(index),
            None => self.object.getattr(&self.names[index]),
        }
    }
}

/// The writer's per-event pipeline (native output format) for a whole batch:
/// `asgi_audit.record.pipeline.Pipeline`'s `encode`, without the seal.
#[pyclass(frozen, module = "asgi_audit_native")]
pub struct Pipeline {
    redactor: Option<Py<Redactor>>,
    config: Config,
    ids: Arc<Mutex<Uuid7>>,
    caches: Mutex<Caches>,
    /// The second half's, when a batch is encoded in two.
    helper_caches: Mutex<Caches>,
}

#[pymethods]
impl Pipeline {
    /// `session_ids` is `"hash"`, `"raw"` or `"omit"`; `seal_bytes` the room a
    /// seal takes on a sealed line; `ids` the generator to draw event ids from.
    #[new]
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (redactor, field_caps, default_chars, max_event_bytes, max_items, session_ids, session_key, seal_bytes, ids))]
    fn create(
        redactor: Option<Py<Redactor>>,
        field_caps: HashMap<String, usize>,
        default_chars: usize,
        max_event_bytes: usize,
        max_items: usize,
        session_ids: &str,
        session_key: Vec<u8>,
        seal_bytes: usize,
        ids: &Bound<'_, Uuid7Generator>,
    ) -> PyResult<Self> {
        let session = match session_ids {
            "hash" => Session::Hash(session_key),
            "raw" => Session::Raw,
            "omit" => Session::Omit,
            other => return Err(PyValueError::new_err(format!("session_ids: {other:?}"))),
        };
        Ok(Pipeline {
            redactor,
            config: Config {
                field_caps,
                default_chars,
                max_event_bytes,
                max_items,
                session,
                seal_bytes,
            },
            ids: ids.get().state.clone(),
            caches: Mutex::new(Caches::default()),
            helper_caches: Mutex::new(Caches::default()),
        })
    }

    /// For each of `raws` its stamped, unsealed line (bytes), or the event id
    /// drawn for it (str) where the reference must encode it.
    ///
    /// `chains[i]` indexes `stamps` (`(stream, last seq, first-line fields)`) for
    /// an event of a sealed stream. `ids` replaces the drawn ids (for the tests).
    #[pyo3(signature = (raws, chains, stamps, ids=None))]
    fn encode_batch<'py>(
        &self,
        py: Python<'py>,
        raws: &Bound<'py, PyList>,
        chains: Vec<Option<usize>>,
        stamps: Vec<(String, i64, Bound<'py, PyDict>)>,
        ids: Option<Vec<String>>,
    ) -> PyResult<Vec<Py<PyAny>>> {
        let arena = Arena::new();
        let batch = read_batch(py, &arena, raws, chains, &stamps, ids)?;
        let (ids, lines) = py.detach(|| self.lines(&batch));
        given_back(py, lines, ids)
    }

    /// The batch's lines sealed and grouped by category, as the writer appends
    /// them: `(groups, macs, durable)`, where `groups` holds `(category, data,
    /// count, first, real)` per category in order of first appearance (`data`
    /// its lines joined, `first` the index of its first event, `real` how many
    /// of its events are among the first `real` of the batch), `macs` each
    /// stream's last MAC, and `durable` whether any event asked to be.
    ///
    /// `seals[c]` is stream `c`'s `(sealer, previous MAC, size, hashes)`; the
    /// frontier's hashes are updated in place, as `Sealer.seal_many` does.
    /// Where any event is the reference's, nothing is sealed and the result is
    /// `encode_batch`'s.
    #[pyo3(signature = (raws, chains, stamps, seals, real, ids=None))]
    #[allow(clippy::too_many_arguments, clippy::type_complexity)]
    fn encode_grouped<'py>(
        &self,
        py: Python<'py>,
        raws: &Bound<'py, PyList>,
        chains: Vec<Option<usize>>,
        stamps: Vec<(String, i64, Bound<'py, PyDict>)>,
        seals: Vec<(Bound<'py, PySealer>, Vec<u8>, u64, Bound<'py, PyList>)>,
        real: usize,
        ids: Option<Vec<String>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if seals.len() != stamps.len() {
            return Err(PyValueError::new_err("one seal per stamp"));
        }
        let mut chained = Vec::with_capacity(seals.len());
        for (sealer, previous, size, hashes) in &seals {
            chained.push(Chained {
                sealer: &sealer.get().inner,
                previous: previous.clone(),
                tree: frontier(*size, hashes, raws.len())?,
            });
        }
        let arena = Arena::new();
        let batch = read_batch(py, &arena, raws, chains, &stamps, ids)?;
        let (ids, lines, groups) = py.detach(|| self.grouped(&batch, &mut chained, real));
        let Some(groups) = groups else {
            return Ok(PyList::new(py, given_back(py, lines, ids)?)?.into_any());
        };
        for ((_, _, _, hashes), chain) in seals.iter().zip(&chained) {
            store(&chain.tree, hashes)?;
        }
        let mut out = Vec::with_capacity(groups.len());
        for group in groups {
            let category = batch.events[group.first]
                .as_ref()
                .map_or("", |raw| raw.category);
            out.push((
                category,
                PyBytes::new(py, &group.data),
                group.count,
                group.first,
                group.real,
            ));
        }
        let macs: Vec<Bound<'py, PyBytes>> = chained
            .iter()
            .map(|chain| PyBytes::new(py, &chain.previous))
            .collect();
        (out, macs, batch.durable).into_bound_py_any(py)
    }

    /// `encode_grouped`'s batch, read now, then encoded, sealed and appended on
    /// `lane`'s thread, which never takes the GIL (`py_lane.rs`): each
    /// category's lines to its file in `files` (`(category, lock fd, lock path,
    /// lock ident, fd, path, ident, bounds)`, as `append_locked` takes them),
    /// under the file's lock. The file descriptors must stay open, and the
    /// chains untouched, until the job is done; `Job.finish` then gives the
    /// outcome. `ids` replaces the drawn ids (for the tests). `continues`: the
    /// job follows the lane's last one before that one is finished, and takes
    /// each stream's chain from it (see `py_lane.rs`).
    #[pyo3(signature = (lane, raws, chains, stamps, seals, real, files, ids=None, continues=false))]
    #[allow(clippy::too_many_arguments, clippy::type_complexity)]
    fn start_grouped<'py>(
        slf: &Bound<'py, Self>,
        lane: &Bound<'py, Lane>,
        raws: &Bound<'py, PyList>,
        chains: Vec<Option<usize>>,
        stamps: Vec<(String, i64, Bound<'py, PyDict>)>,
        seals: Vec<(Bound<'py, PySealer>, Vec<u8>, u64, Bound<'py, PyList>)>,
        real: usize,
        files: Vec<FileArgs>,
        ids: Option<Vec<String>>,
        continues: bool,
    ) -> PyResult<Job> {
        crate::py_lane::start_grouped(
            slf, lane, raws, chains, stamps, seals, real, files, ids, continues,
        )
    }
}

/// A batch read with the GIL held: what the core needs of it.
pub(crate) struct Batch<'a> {
    pub(crate) events: Vec<Option<RawEvent<'a>>>,
    /// Whether any event asked to be durable.
    pub(crate) durable: bool,
    whens: Vec<u64>,
    /// Each event's index in `table`, None: unsealed.
    pub(crate) chains: Vec<Option<usize>>,
    /// Each sealed stream's stamp.
    pub(crate) table: Vec<Stamp<'a>>,
    ids: Option<Vec<String>>,
}

pub(crate) fn read_batch<'a, 'py>(
    py: Python<'py>,
    arena: &'a Arena<'py>,
    raws: &Bound<'py, PyList>,
    chains: Vec<Option<usize>>,
    stamps: &'a [(String, i64, Bound<'py, PyDict>)],
    ids: Option<Vec<String>>,
) -> PyResult<Batch<'a>> {
    let size = raws.len();
    if chains.len() != size || ids.as_ref().is_some_and(|ids| ids.len() != size) {
        return Err(PyValueError::new_err("one chain and one id per event"));
    }
    if chains.iter().flatten().any(|&c| c >= stamps.len()) {
        return Err(PyValueError::new_err("a chain index past the stamps"));
    }
    let mut events = Vec::with_capacity(size);
    let mut whens = Vec::with_capacity(size);
    let mut durable = false;
    let names = Rc::new(
        NAMES
            .iter()
            .map(|n| PyString::intern(py, n))
            .collect::<Vec<_>>(),
    );
    let mut reader = Reader::new(py, arena);
    for raw in raws.iter() {
        let raw = Slots::new(raw, &names);
        whens.push(raw.get(TIME_NS).and_then(|t| when_of_py(&t)).unwrap_or(0));
        durable |= raw.get(DURABLE)?.is_truthy()?;
        events.push(reader.raw(&raw));
    }
    let mut table = Vec::with_capacity(stamps.len());
    for (stream, base_seq, first) in stamps {
        let first = arena
            .map(first, MAX_NESTING)
            .ok_or_else(|| PyValueError::new_err("the first line's fields are not plain"))?;
        table.push(Stamp {
            stream,
            base_seq: i128::from(*base_seq),
            first,
        });
    }
    Ok(Batch {
        events,
        durable,
        whens,
        chains,
        table,
        ids,
    })
}

/// Each line as bytes, or its event's id (str) where the reference must encode it.
pub(crate) fn given_back(
    py: Python<'_>,
    lines: Vec<Option<Vec<u8>>>,
    ids: Vec<String>,
) -> PyResult<Vec<Py<PyAny>>> {
    let mut out = Vec::with_capacity(lines.len());
    for (line, id) in lines.into_iter().zip(ids) {
        out.push(match line {
            Some(line) => PyBytes::new(py, &line).into_any().unbind(),
            None => id.into_py_any(py)?,
        });
    }
    Ok(out)
}

/// The ids, the lines given back (when any event is the reference's) and the groups.
type Grouped = (Vec<String>, Vec<Option<Vec<u8>>>, Option<Vec<Group>>);

impl Pipeline {
    /// `encode_grouped`'s work without the GIL: the ids and, where every event
    /// is the core's, the groups (sealed into `chained`); else the lines as
    /// [`Pipeline::lines`] gives them and no groups.
    pub(crate) fn grouped(
        &self,
        batch: &Batch<'_>,
        chained: &mut [Chained<'_>],
        real: usize,
    ) -> Grouped {
        let (ids, lines) = self.lines(batch);
        if lines.iter().any(Option::is_none) {
            return (ids, lines, None);
        }
        let lines: Vec<Vec<u8>> = lines.into_iter().flatten().collect();
        let categories: Vec<&str> = batch
            .events
            .iter()
            .map(|raw| raw.as_ref().map_or("", |raw| raw.category))
            .collect();
        let groups = group(&categories, &lines, &batch.chains, chained, real);
        (ids, Vec::new(), Some(groups))
    }

    /// The event ids and the unsealed lines of a batch (None: the reference's);
    /// without the GIL. A large batch (a writer catching up after a burst) is
    /// encoded in two halves at once, where the machine has two cores or more;
    /// each half with caches of its own, the lines the same.
    fn lines(&self, batch: &Batch<'_>) -> (Vec<String>, Vec<Option<Vec<u8>>>) {
        let ids = batch.ids.clone().unwrap_or_else(|| {
            let drawn = lock(&self.ids).next_many(&batch.whens);
            drawn
                .into_iter()
                .map(|(when, rand)| format_id(when, rand))
                .collect()
        });
        let events = &batch.events;
        let (chains, table) = (&batch.chains, &batch.table);
        if events.len() < PARALLEL_FROM || !two_cores() {
            let mut guard = self.caches.lock().unwrap_or_else(PoisonError::into_inner);
            let lines = encode_batch(&self.core(&mut guard), events, &ids, chains, table);
            return (ids, lines);
        }
        let mid = events.len() / 2;
        let seqs = seqs_after(table, &chains[..mid]);
        let lines = std::thread::scope(|scope| {
            let second = scope.spawn(|| {
                let mut guard = self
                    .helper_caches
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                let core = self.core(&mut guard);
                encode_from(
                    &core,
                    &events[mid..],
                    &ids[mid..],
                    &chains[mid..],
                    table,
                    seqs,
                )
            });
            let mut guard = self.caches.lock().unwrap_or_else(PoisonError::into_inner);
            let core = self.core(&mut guard);
            let mut lines = encode_batch(&core, &events[..mid], &ids[..mid], &chains[..mid], table);
            // A panic outside an event's own guard: the reference takes that half.
            lines.extend(
                second
                    .join()
                    .unwrap_or_else(|_| vec![None; events.len() - mid]),
            );
            lines
        });
        (ids, lines)
    }

    /// The batch's work over `caches`.
    fn core<'a>(&'a self, caches: &'a mut Caches) -> Core<'a> {
        let redactor = self.redactor.as_ref().map(Py::get);
        Core {
            config: &self.config,
            redact: redactor.map(|r| Redact {
                redaction: Redaction {
                    engine: &r.scanner.get().engine,
                    keys: &r.keys,
                },
                mask: r.mask.as_str(),
            }),
            caches: RefCell::new(caches),
        }
    }
}

/// The smallest batch encoded in two halves at once: below it, a thread costs
/// more than it saves.
const PARALLEL_FROM: usize = 256;

/// Whether the machine runs two threads at once (asked once).
fn two_cores() -> bool {
    static TWO: OnceLock<bool> = OnceLock::new();
    *TWO.get_or_init(|| std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2))
}
