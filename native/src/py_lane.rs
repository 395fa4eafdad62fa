//! The writer's batches encoded, sealed and appended on a thread of the core's
//! own, which never takes the GIL: `Lane` and `Job`.
//!
//! `Pipeline.encode_grouped` holds the GIL to read a batch and takes it back to
//! return the lines; in the writer's Python thread each of those takes, and each
//! `append_locked` after them, waits for a busy event loop to let the GIL go,
//! which a loop that keeps running Python does only at its switch interval, or
//! not at all while it lets the GIL go and takes it back more often than that.
//! During a burst the writer then falls behind by whole batches.
//!
//! Here the event loop reads the batch (it holds the GIL anyway), and the lane's
//! thread encodes, seals and appends each category's lines to the files the
//! writer passed, under each file's lock, as `append_locked` does. It then
//! writes one byte to the lane's pipe, which the loop waits on; the loop takes
//! the outcome from the `Job`. Anything out of the ordinary (a file to rotate,
//! moved or replaced, a failed write, an event only the reference encodes) comes
//! back to the writer's Python code with its lines, unwritten.
//!
//! The loop may start a job while the ones before it still run (`continues`):
//! the thread then carries each stream's chain from job to job (its last MAC,
//! its Merkle frontier, its last `seq`) in place of the state the loop read,
//! which those jobs have not advanced yet, and leaves alone every category
//! whose lines an earlier job of the run gave back (they are written by the
//! writer's Python thread, and a later line must not reach the file before
//! them). A job given back to the reference (or failed) breaks the run: every
//! continuing job after it is skipped, untouched, for the loop to start again
//! once it has sealed the given-back one; a job that does not continue starts
//! a new run from the state it was given.
//!
//! The batch's strings are borrowed from the Python objects, as in
//! `encode_grouped`: the job holds a strong reference to each until the thread
//! is done with them, and the thread lets its own references go before it
//! writes the byte, so that they are dropped on the loop, with the GIL.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex, PoisonError};

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};
use pyo3::IntoPyObjectExt;

use crate::append::{append, Appended, Bounds, Held, Ident};
use crate::group::{Chained, Group};
use crate::pipeline::seqs_after;
use crate::py_pipeline::{given_back, read_batch, Arena, Batch, Pipeline};
use crate::seal::py::{frontier, store, Sealer as PySealer};
use crate::seal::Frontier;

/// A category's open file, as `AppendFile.core_args` gives it: `(category,
/// lock fd, lock path, lock ident, fd, path, ident, bounds)`.
pub(crate) type FileArgs = (
    String,
    i32,
    Vec<u8>,
    Ident,
    i32,
    Vec<u8>,
    Ident,
    Option<(i64, f64, f64)>,
);

/// Where a file stands, for [`append`].
struct File {
    category: String,
    lock_fd: i32,
    lock_path: PathBuf,
    lock_ident: Ident,
    fd: i32,
    path: PathBuf,
    ident: Ident,
    bounds: Option<Bounds>,
}

impl File {
    fn from_args(args: FileArgs) -> Self {
        use std::ffi::OsString;
        use std::os::unix::ffi::OsStringExt;
        let (category, lock_fd, lock_path, lock_ident, fd, path, ident, bounds) = args;
        File {
            category,
            lock_fd,
            lock_path: PathBuf::from(OsString::from_vec(lock_path)),
            lock_ident,
            fd,
            path: PathBuf::from(OsString::from_vec(path)),
            ident,
            bounds: bounds.map(Bounds::from_tuple),
        }
    }

    fn append(&self, data: &[u8]) -> Appended {
        let held = Held {
            lock_fd: self.lock_fd,
            lock_path: &self.lock_path,
            lock_ident: self.lock_ident,
            fd: self.fd,
            path: &self.path,
            ident: self.ident,
        };
        append(held, &[data], self.bounds)
    }
}

/// What the Python objects a job borrows from: held until the job is dropped
/// (on the loop) or, if it is dropped first, until the thread is done.
struct Keep {
    pipeline: Py<Pipeline>,
    _strings: Vec<Py<PyString>>,
    _sealers: Vec<Py<PySealer>>,
    /// The stamps' fields, which the batch's stamps borrow.
    _stamps: Box<[(String, i64, Py<PyDict>)]>,
    /// Each stream's frontier hashes, stored back into on the loop.
    hashes: Vec<Py<PyList>>,
}

/// The thread's work. Its texts borrow from [`Keep`]'s objects: `'static` is a
/// lie the job's layout keeps true (see [`Task`]).
struct Work {
    batch: Batch<'static>,
    chained: Vec<Chained<'static>>,
    files: Vec<File>,
    real: usize,
    /// Whether the job follows the lane's last job in the same run (see the
    /// module): the carried chains replace the ones read.
    continues: bool,
}

/// A stream's chain after the run's last job.
struct Carried {
    /// The sealer that sealed it (its address): a job whose stream has another
    /// is not part of the run.
    sealer: usize,
    previous: Vec<u8>,
    tree: Frontier,
    seq: i128,
}

/// What the lane's thread carries from job to job within a run.
#[derive(Default)]
struct Carry {
    streams: HashMap<String, Carried>,
    /// Categories whose lines a job of the run gave back unwritten.
    stopped: HashSet<String>,
    /// A job of the run was given back or failed: what continues is skipped.
    broken: bool,
}

impl Carry {
    /// The carried chains into `work`, and the stopped categories' files out of
    /// it; false if the job cannot continue the run (the run is broken, or one of
    /// its streams has another sealer than the one carried, which breaks it).
    fn resume(&mut self, work: &mut Work) -> bool {
        if !work.continues {
            *self = Carry::default();
            return true;
        }
        if self.broken {
            return false;
        }
        for (stamp, chained) in work.batch.table.iter_mut().zip(&mut work.chained) {
            if let Some(carried) = self.streams.get(stamp.stream) {
                if carried.sealer != std::ptr::from_ref(chained.sealer) as usize {
                    // Not this run's chain: what continues behind it is skipped too.
                    self.broken = true;
                    return false;
                }
                chained.previous.clone_from(&carried.previous);
                chained.tree = carried.tree.clone();
                stamp.base_seq = carried.seq;
            }
        }
        let stopped = &self.stopped;
        work.files.retain(|file| !stopped.contains(&file.category));
        true
    }

    /// Nothing carried, and what continues skipped until a job starts a new run.
    fn break_off(&mut self) {
        *self = Carry {
            broken: true,
            ..Carry::default()
        };
    }

    /// The run after `work`'s job ended as `state`.
    fn advance(&mut self, work: &Work, state: &State) {
        let State::Grouped { outcomes, .. } = state else {
            self.broken = true;
            return;
        };
        for outcome in outcomes {
            if !matches!(outcome.appended, Some(Appended::Written(_))) {
                self.stopped.insert(outcome.category.clone());
            }
        }
        let seqs = seqs_after(&work.batch.table, &work.batch.chains);
        for ((stamp, chained), seq) in work.batch.table.iter().zip(&work.chained).zip(seqs) {
            self.streams.insert(
                stamp.stream.to_owned(),
                Carried {
                    sealer: std::ptr::from_ref(chained.sealer) as usize,
                    previous: chained.previous.clone(),
                    tree: chained.tree.clone(),
                    seq,
                },
            );
        }
    }
}

/// One category's lines and what became of them.
struct Outcome {
    category: String,
    group: Group,
    /// None: no file was given for its category.
    appended: Option<Appended>,
}

enum State {
    Running,
    /// Every event was the core's.
    Grouped {
        outcomes: Vec<Outcome>,
        macs: Vec<Vec<u8>>,
        trees: Vec<Frontier>,
        durable: bool,
    },
    /// Some event is the reference's: nothing sealed, nothing written.
    GivenBack {
        ids: Vec<String>,
        lines: Vec<Option<Vec<u8>>>,
    },
    /// The core failed (a bug): nothing sealed, nothing written.
    Failed,
    /// The job continued a broken run: nothing sealed, nothing written.
    Skipped,
    Taken,
}

/// A job sent to the lane's thread. Field order is drop order: the work (which
/// borrows) goes before the references it borrows from.
struct Task {
    work: Work,
    keep: Arc<Keep>,
    state: Arc<Mutex<State>>,
}

// SAFETY: `Work` holds plain Rust values and borrowed views of immutable Python
// objects (`str` data, a frozen `Sealer`'s Rust state) that `keep` holds alive;
// nothing in it touches Python. `Keep` is only `Py` handles: dropped without the
// GIL (if the job was dropped first), PyO3 defers their decrements to the next
// time a thread holds it.
unsafe impl Send for Task {}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Task {
    fn run(self, carry: &mut Carry, notify: &mut std::io::PipeWriter) {
        let Task {
            mut work,
            keep,
            state,
        } = self;
        // A panic in the run's bookkeeping (a bug) must neither end this thread
        // (the writer would wait for its jobs for ever) nor lose what the job
        // appended: it breaks the run, so that what continues is skipped.
        let resumed = std::panic::catch_unwind(AssertUnwindSafe(|| carry.resume(&mut work)));
        let done = match resumed {
            Ok(true) => {
                let done = Self::work(&mut work, &keep);
                let advanced =
                    std::panic::catch_unwind(AssertUnwindSafe(|| carry.advance(&work, &done)));
                if advanced.is_err() {
                    carry.break_off();
                }
                done
            }
            Ok(false) => State::Skipped,
            Err(_) => {
                carry.break_off();
                State::Skipped
            }
        };
        drop(work);
        *lock(&state) = done;
        drop(state);
        // The objects go back to the loop with the job, unless it is gone.
        drop(keep);
        // A full pipe already wakes the loop; a closed one has nobody to wake.
        let _ = notify.write(&[1]);
    }

    /// The job's batch encoded, sealed and appended.
    fn work(work: &mut Work, keep: &Keep) -> State {
        std::panic::catch_unwind(AssertUnwindSafe(|| {
            let pipeline = keep.pipeline.get();
            let (ids, lines, groups) = pipeline.grouped(&work.batch, &mut work.chained, work.real);
            let Some(groups) = groups else {
                return State::GivenBack { ids, lines };
            };
            let outcomes = groups
                .into_iter()
                .map(|group| {
                    let category = work.batch.events[group.first]
                        .as_ref()
                        .map_or("", |raw| raw.category);
                    // A panic in one append (a bug) gives that group back to the
                    // Python append, not the whole batch to the reference, which would
                    // seal and write again what the other appends wrote.
                    let appended = work
                        .files
                        .iter()
                        .find(|file| file.category == category)
                        .map(|file| {
                            std::panic::catch_unwind(AssertUnwindSafe(|| file.append(&group.data)))
                                .unwrap_or(Appended::Ask)
                        });
                    Outcome {
                        category: category.to_owned(),
                        group,
                        appended,
                    }
                })
                .collect();
            State::Grouped {
                outcomes,
                macs: work.chained.iter().map(|c| c.previous.clone()).collect(),
                trees: work.chained.iter().map(|c| c.tree.clone()).collect(),
                durable: work.batch.durable,
            }
        }))
        .unwrap_or(State::Failed)
    }
}

/// The writer's lane: one thread of the core's, and the pipe it signals on.
#[pyclass(frozen, module = "asgi_audit_native")]
pub struct Lane {
    sender: Mutex<Option<Sender<Task>>>,
    reader: Mutex<std::io::PipeReader>,
    fd: i32,
    /// The process that started the thread: a forked child has the lane but not
    /// its thread, and a job sent there would never be done.
    pid: u32,
}

#[pymethods]
impl Lane {
    #[new]
    fn create() -> PyResult<Self> {
        let (reader, mut writer) = std::io::pipe()?;
        let (sender, receiver) = channel::<Task>();
        std::thread::Builder::new()
            .name("asgi_audit core writer".into())
            .spawn(move || {
                let mut carry = Carry::default();
                for task in receiver {
                    task.run(&mut carry, &mut writer);
                }
            })?;
        let fd = reader.as_raw_fd();
        Ok(Lane {
            sender: Mutex::new(Some(sender)),
            reader: Mutex::new(reader),
            fd,
            pid: std::process::id(),
        })
    }

    /// The pipe's read end: readable once a job is done.
    fn fileno(&self) -> i32 {
        self.fd
    }

    /// Read what the thread wrote to the pipe (call once it is readable).
    fn drain(&self) -> PyResult<()> {
        let mut buffer = [0u8; 64];
        let _ = self
            .reader
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .read(&mut buffer)?;
        Ok(())
    }

    /// Let the thread end once its jobs are done (the pipe stays open while
    /// the lane lives).
    fn close(&self) {
        self.sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }
}

/// A batch on the lane: `done()` once the pipe is readable, then `finish()`.
#[pyclass(frozen, module = "asgi_audit_native")]
pub struct Job {
    state: Arc<Mutex<State>>,
    keep: Arc<Keep>,
}

#[pymethods]
impl Job {
    /// Whether the thread is done with it.
    fn done(&self) -> bool {
        !matches!(*lock(&self.state), State::Running)
    }

    /// The outcome, once: `(groups, macs, durable)` when every event was the
    /// core's, each group `(category, data, size, count, first, real, status,
    /// value)` (`size` the length of its lines joined) with `status` 0 (written; `value` the file's size after it, and
    /// `data` None), 1 (nothing written: the Python method must take it), 2
    /// (the write failed, cut back; `value` the errno) or 3 (no file given);
    /// the frontiers' hashes are stored back in place. Else the lines as
    /// `encode_batch` gives them, nothing sealed or written; or None when the
    /// job continued a broken run (nothing done: start it again).
    ///
    /// Raises RuntimeError if the core failed, or if called before `done()`
    /// or twice.
    fn finish<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let state = std::mem::replace(&mut *lock(&self.state), State::Taken);
        match state {
            State::Grouped {
                outcomes,
                macs,
                trees,
                durable,
            } => {
                for (tree, hashes) in trees.iter().zip(&self.keep.hashes) {
                    store(tree, hashes.bind(py))?;
                }
                let mut groups = Vec::with_capacity(outcomes.len());
                for Outcome {
                    category,
                    group,
                    appended,
                } in outcomes
                {
                    let (status, value) = match appended {
                        Some(Appended::Written(size)) => (0u8, size),
                        Some(Appended::Ask) => (1, 0),
                        Some(Appended::Failed(errno)) => (2, u64::from(errno.unsigned_abs())),
                        None => (3, 0),
                    };
                    let data = if status == 0 {
                        py.None().into_bound(py)
                    } else {
                        PyBytes::new(py, &group.data).into_any()
                    };
                    groups.push((
                        category,
                        data,
                        group.data.len(),
                        group.count,
                        group.first,
                        group.real,
                        status,
                        value,
                    ));
                }
                let macs: Vec<Bound<'py, PyBytes>> =
                    macs.iter().map(|mac| PyBytes::new(py, mac)).collect();
                (groups, macs, durable).into_bound_py_any(py)
            }
            State::GivenBack { ids, lines } => {
                Ok(PyList::new(py, given_back(py, lines, ids)?)?.into_any())
            }
            State::Skipped => Ok(py.None().into_bound(py)),
            State::Running => {
                *lock(&self.state) = State::Running;
                Err(PyRuntimeError::new_err("the job is not done"))
            }
            State::Failed => Err(PyRuntimeError::new_err("the core failed on this batch")),
            State::Taken => Err(PyRuntimeError::new_err("the job's outcome was taken")),
        }
    }
}

/// `Pipeline.start_grouped` (see there).
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
pub(crate) fn start_grouped<'py>(
    slf: &Bound<'py, Pipeline>,
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
    let py = slf.py();
    if lane.get().pid != std::process::id() {
        return Err(PyRuntimeError::new_err(
            "the lane's thread belongs to the process this one was forked from",
        ));
    }
    if seals.len() != stamps.len() {
        return Err(PyValueError::new_err("one seal per stamp"));
    }
    let mut trees = Vec::with_capacity(seals.len());
    for (_, _, size, hashes) in &seals {
        trees.push(frontier(*size, hashes, raws.len())?);
    }
    let stamps: Box<[(String, i64, Bound<'py, PyDict>)]> = stamps.into_boxed_slice();
    let arena = Arena::new();
    let batch = read_batch(py, &arena, raws, chains, &stamps, ids)?;
    // SAFETY: the batch borrows the arena's strings and the stamps' own
    // strings and dicts' contents (through the arena). Both move into
    // `Keep` below: a `str`'s data and a `String`'s heap buffer do not move
    // with their owner, and `Task` drops the work before `Keep`.
    let batch: Batch<'static> = unsafe { std::mem::transmute::<Batch<'_>, Batch<'static>>(batch) };
    let mut chained = Vec::with_capacity(seals.len());
    for ((sealer, previous, _, _), tree) in seals.iter().zip(trees) {
        let inner: &crate::seal::Sealer = &sealer.get().inner;
        // SAFETY: a frozen pyclass's Rust value lives as long as the object,
        // which `Keep.sealers` holds; the work is dropped before it.
        let inner: &'static crate::seal::Sealer = unsafe { &*std::ptr::from_ref(inner) };
        chained.push(Chained {
            sealer: inner,
            previous: previous.clone(),
            tree,
        });
    }
    let keep = Arc::new(Keep {
        pipeline: slf.clone().unbind(),
        _strings: arena
            .strings
            .into_inner()
            .into_iter()
            .map(Bound::unbind)
            .collect(),
        _sealers: seals
            .iter()
            .map(|(s, _, _, _)| s.clone().unbind())
            .collect(),
        hashes: seals
            .iter()
            .map(|(_, _, _, h)| h.clone().unbind())
            .collect(),
        _stamps: stamps
            .into_vec()
            .into_iter()
            .map(|(stream, seq, first)| (stream, seq, first.unbind()))
            .collect(),
    });
    let state = Arc::new(Mutex::new(State::Running));
    let task = Task {
        work: Work {
            batch,
            chained,
            files: files.into_iter().map(File::from_args).collect(),
            real,
            continues,
        },
        keep: Arc::clone(&keep),
        state: Arc::clone(&state),
    };
    let lane = lane.get();
    let sender = lane.sender.lock().unwrap_or_else(PoisonError::into_inner);
    match sender.as_ref() {
        Some(sender) if sender.send(task).is_ok() => Ok(Job { state, keep }),
        _ => Err(PyRuntimeError::new_err("the lane is closed")),
    }
}
