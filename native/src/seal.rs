//! Sealing lines: the same function as `asgi_audit.proof.integrity.Chain.seal`.
//!
//! A line is one JSON object and its newline. Its *body* is the line without the
//! newline; its Merkle leaf hash (RFC 9162) is `SHA-256(0x00 || body)`, appended
//! to the stream's tree [`Frontier`]; its MAC is `HMAC-SHA256(key, previous MAC
//! || leaf)`, or `SHA-256(previous MAC || leaf)` without a key. The sealed line
//! is the body without its closing `}`, the prefix (`,"mac":"<label>:`), the MAC
//! in lower-case hex and `"}` and a newline.
//!
//! Lengths are taken as Python slices take them: a line shorter than two bytes
//! has an empty body or head, and is sealed all the same.
//!
//! The Python bindings (the `python` feature) are in [`py`]; the rest is plain
//! Rust, for the tests and the fuzz target.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The version of the sealing format (see `asgi_audit.record.engine.SEAL`).
pub const SEAL: u32 = 1;

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// The largest tree size a [`Frontier`] takes: one more leaf always fits.
pub const MAX_SIZE: u64 = u64::MAX >> 1;

/// `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    Sha256::new()
        .chain_update([0u8])
        .chain_update(data)
        .finalize()
        .into()
}

/// `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    Sha256::new()
        .chain_update([1u8])
        .chain_update(left)
        .chain_update(right)
        .finalize()
        .into()
}

/// The subtree root that appending `leaf` makes, given the frontier's last
/// `trailing_ones(size)` hashes (`tail`, in the frontier's order): they merge
/// with it, the last first.
pub fn merge(tail: &[Hash], leaf: Hash) -> Hash {
    tail.iter()
        .rev()
        .fold(leaf, |value, left| node_hash(left, &value))
}

/// The right edge of a growing tree, as `asgi_audit.proof.merkle.Frontier`:
/// one subtree root per bit set in `size`, largest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    hashes: Vec<Hash>,
}

impl Frontier {
    /// The frontier of `size` leaves from its subtree roots; None unless there
    /// is one per bit set in `size` and `size` is at most [`MAX_SIZE`].
    pub fn new(size: u64, hashes: Vec<Hash>) -> Option<Frontier> {
        (size <= MAX_SIZE && hashes.len() == size.count_ones() as usize)
            .then_some(Frontier { size, hashes })
    }

    /// How many leaves were appended.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The subtree roots, largest first.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// Appends the leaf of `data`; returns the leaf hash. Panics past [`MAX_SIZE`].
    pub fn append_data(&mut self, data: &[u8]) -> Hash {
        let leaf = leaf_hash(data);
        self.append(leaf);
        leaf
    }

    /// Appends a leaf by its hash. Panics past [`MAX_SIZE`].
    pub fn append(&mut self, leaf: Hash) {
        assert!(
            self.size < MAX_SIZE,
            "a frontier of {} leaves is full",
            self.size
        );
        let keep = self.hashes.len() - self.size.trailing_ones() as usize;
        let node = merge(&self.hashes[keep..], leaf);
        self.hashes.truncate(keep);
        self.hashes.push(node);
        self.size += 1;
    }

    /// The root over every leaf appended (RFC 9162).
    pub fn root(&self) -> Hash {
        match self.hashes.split_last() {
            None => Sha256::digest(b"").into(),
            Some((last, rest)) => merge(rest, *last),
        }
    }
}

/// How a line's MAC is made: HMAC-SHA256 with a key, SHA-256 without.
#[derive(Clone)]
pub enum MacKey {
    Plain,
    /// The key's padded inner and outer states (RFC 2104), copied per line.
    Hmac(Hmac<Sha256>),
}

impl MacKey {
    /// None or an empty key: SHA-256, as the reference's `if key`.
    pub fn new(key: Option<&[u8]>) -> MacKey {
        match key {
            Some(key) if !key.is_empty() => {
                MacKey::Hmac(Hmac::new_from_slice(key).expect("HMAC takes a key of any length"))
            }
            _ => MacKey::Plain,
        }
    }

    /// The MAC of `previous || leaf`.
    pub fn mac(&self, previous: &[u8], leaf: &Hash) -> Hash {
        match self {
            MacKey::Plain => Sha256::new()
                .chain_update(previous)
                .chain_update(leaf)
                .finalize()
                .into(),
            MacKey::Hmac(keyed) => {
                let mut keyed = keyed.clone();
                keyed.update(previous);
                keyed.update(leaf);
                keyed.finalize().into_bytes().into()
            }
        }
    }
}

/// The line without its newline (the last byte), as `encoded[:-1]`.
pub fn body(line: &[u8]) -> &[u8] {
    &line[..line.len().saturating_sub(1)]
}

/// The body without its closing brace, as `encoded[:-1][:-1]`.
pub fn head(line: &[u8]) -> &[u8] {
    &line[..line.len().saturating_sub(2)]
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// One stream's sealing under one key and label.
#[derive(Clone)]
pub struct Sealer {
    key: MacKey,
    prefix: Vec<u8>,
}

impl Sealer {
    /// `key` as [`MacKey::new`]; `prefix` is `,"mac":"<label>:`.
    pub fn new(key: Option<&[u8]>, prefix: &[u8]) -> Sealer {
        Sealer {
            key: MacKey::new(key),
            prefix: prefix.to_vec(),
        }
    }

    /// The MAC of `line` chained to `previous`; its leaf is appended to `tree`.
    pub fn mac(&self, previous: &[u8], tree: &mut Frontier, line: &[u8]) -> Hash {
        let leaf = tree.append_data(body(line));
        self.key.mac(previous, &leaf)
    }

    /// The MACs of `lines` in order, the first chained to `previous`; their
    /// leaves are appended to `tree`.
    pub fn macs(&self, previous: &[u8], tree: &mut Frontier, lines: &[&[u8]]) -> Vec<Hash> {
        let mut macs: Vec<Hash> = Vec::with_capacity(lines.len());
        for line in lines {
            let mac = match macs.last() {
                Some(last) => self.mac(last, tree, line),
                None => self.mac(previous, tree, line),
            };
            macs.push(mac);
        }
        macs
    }

    /// The length of `line` sealed.
    pub fn sealed_len(&self, line: &[u8]) -> usize {
        head(line).len() + self.prefix.len() + 64 + 3
    }

    /// `line` sealed with `mac`, into `out` of [`Sealer::sealed_len`] bytes.
    pub fn write_sealed(&self, line: &[u8], mac: &Hash, out: &mut [u8]) {
        let head = head(line);
        let (start, rest) = out.split_at_mut(head.len());
        start.copy_from_slice(head);
        let (prefix, rest) = rest.split_at_mut(self.prefix.len());
        prefix.copy_from_slice(&self.prefix);
        let (hex, end) = rest.split_at_mut(64);
        for (pair, byte) in hex.chunks_exact_mut(2).zip(mac) {
            pair[0] = HEX[usize::from(byte >> 4)];
            pair[1] = HEX[usize::from(byte & 15)];
        }
        end.copy_from_slice(b"\"}\n");
    }

    /// `line` sealed with `mac`.
    pub fn sealed(&self, line: &[u8], mac: &Hash) -> Vec<u8> {
        let mut out = vec![0; self.sealed_len(line)];
        self.write_sealed(line, mac, &mut out);
        out
    }

    /// `lines` sealed in order, the first chained to `previous`, their leaves
    /// appended to `tree`.
    pub fn seal_many(&self, previous: &[u8], tree: &mut Frontier, lines: &[&[u8]]) -> Vec<Vec<u8>> {
        let macs = self.macs(previous, tree, lines);
        lines
            .iter()
            .zip(&macs)
            .map(|(line, mac)| self.sealed(line, mac))
            .collect()
    }
}

/// The Python class `asgi_audit_native.Sealer`, registered in `lib.rs`.
#[cfg(feature = "python")]
pub mod py {
    use pyo3::exceptions::PyValueError;
    use pyo3::prelude::*;
    use pyo3::types::{PyBytes, PyList};

    use super::{merge, Frontier, Hash, MAX_SIZE};

    /// A line at least this long is hashed without the GIL by `seal` too.
    const DETACH_AT: usize = 16 * 1024;

    fn hash_at(hashes: &Bound<'_, PyList>, index: usize) -> PyResult<Hash> {
        let item = hashes.get_item(index)?;
        let value = item.cast::<PyBytes>()?.as_bytes();
        value
            .try_into()
            .map_err(|_| PyValueError::new_err("a frontier hash is 32 bytes"))
    }

    fn check(size: u64, hashes: &Bound<'_, PyList>, adding: usize) -> PyResult<()> {
        if hashes.len() != size.count_ones() as usize {
            return Err(PyValueError::new_err(format!(
                "{} hashes cannot be a frontier of size {size}",
                hashes.len()
            )));
        }
        match size.checked_add(adding as u64) {
            Some(end) if end <= MAX_SIZE => Ok(()),
            _ => Err(PyValueError::new_err("the frontier is full")),
        }
    }

    /// The Python `Frontier`'s state (`size` leaves, `hashes`) as a [`Frontier`]
    /// that `adding` more leaves will fit.
    pub(crate) fn frontier(
        size: u64,
        hashes: &Bound<'_, PyList>,
        adding: usize,
    ) -> PyResult<Frontier> {
        check(size, hashes, adding)?;
        let roots = (0..hashes.len())
            .map(|i| hash_at(hashes, i))
            .collect::<PyResult<Vec<Hash>>>()?;
        Ok(Frontier::new(size, roots).expect("checked"))
    }

    /// `tree`'s subtree roots into the Python `Frontier`'s list, in place.
    pub(crate) fn store(tree: &Frontier, hashes: &Bound<'_, PyList>) -> PyResult<()> {
        let py = hashes.py();
        let roots = PyList::new(py, tree.hashes().iter().map(|h| PyBytes::new(py, h)))?;
        hashes.set_slice(0, hashes.len(), roots.as_any())
    }

    /// The sealing of one stream under one key and label: the same function as
    /// `asgi_audit.proof.integrity.Chain.seal`. `key` None or empty: SHA-256;
    /// `prefix` is `,"mac":"<label>:`.
    ///
    /// The tree is the Python `Frontier`'s state, passed in: its `size` and its
    /// list of subtree roots, which each call updates in place.
    #[pyclass(frozen, module = "asgi_audit_native", name = "Sealer")]
    pub struct Sealer {
        pub(crate) inner: super::Sealer,
    }

    #[pymethods]
    impl Sealer {
        #[new]
        #[pyo3(signature = (key, prefix))]
        fn new(key: Option<&[u8]>, prefix: &[u8]) -> Self {
            Sealer {
                inner: super::Sealer::new(key, prefix),
            }
        }

        /// `(sealed line, MAC)` of `line` chained to `previous`; its leaf is
        /// appended to the frontier (`size` leaves, `hashes`, updated in place).
        fn seal<'py>(
            &self,
            py: Python<'py>,
            previous: &[u8],
            size: u64,
            hashes: &Bound<'py, PyList>,
            line: &[u8],
        ) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyBytes>)> {
            check(size, hashes, 1)?;
            let keep = hashes.len() - size.trailing_ones() as usize;
            let tail = (keep..hashes.len())
                .map(|i| hash_at(hashes, i))
                .collect::<PyResult<Vec<Hash>>>()?;
            let inner = &self.inner;
            let work = || {
                let leaf = super::leaf_hash(super::body(line));
                (inner.key.mac(previous, &leaf), merge(&tail, leaf))
            };
            let (mac, node) = if line.len() >= DETACH_AT {
                py.detach(work)
            } else {
                work()
            };
            let sealed = PyBytes::new_with(py, inner.sealed_len(line), |out| {
                inner.write_sealed(line, &mac, out);
                Ok(())
            })?;
            hashes.del_slice(keep, hashes.len())?;
            hashes.append(PyBytes::new(py, &node))?;
            Ok((sealed, PyBytes::new(py, &mac)))
        }

        /// `(sealed lines, last MAC)` of `lines` in order, the first chained to
        /// `previous` (the last MAC is `previous` when there are none); their
        /// leaves are appended to the frontier (`size` leaves, `hashes`, updated
        /// in place). The hashing runs without the GIL.
        fn seal_many<'py>(
            &self,
            py: Python<'py>,
            previous: &[u8],
            size: u64,
            hashes: &Bound<'py, PyList>,
            lines: Vec<Bound<'py, PyBytes>>,
        ) -> PyResult<(Bound<'py, PyList>, Bound<'py, PyBytes>)> {
            let mut tree = frontier(size, hashes, lines.len())?;
            // The bytes objects are immutable and held by `lines` meanwhile.
            let views: Vec<&[u8]> = lines.iter().map(|line| line.as_bytes()).collect();
            let inner = &self.inner;
            let (views, macs, tree) = py.detach(move || {
                let macs = inner.macs(previous, &mut tree, &views);
                (views, macs, tree)
            });
            let sealed = views
                .iter()
                .zip(&macs)
                .map(|(line, mac)| {
                    PyBytes::new_with(py, inner.sealed_len(line), |out| {
                        inner.write_sealed(line, mac, out);
                        Ok(())
                    })
                })
                .collect::<PyResult<Vec<_>>>()?;
            store(&tree, hashes)?;
            let last = macs.last().map_or(previous, |mac| mac.as_slice());
            Ok((PyList::new(py, sealed)?, PyBytes::new(py, last)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// RFC 9162 2.1.1, recursively.
    fn ref_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => Sha256::digest(b"").into(),
            1 => leaves[0],
            n => {
                let k = 1 << (usize::BITS - (n - 1).leading_zeros() - 1);
                node_hash(&ref_root(&leaves[..k]), &ref_root(&leaves[k..]))
            }
        }
    }

    /// The definition, from scratch per line: HMAC keyed anew, no frontier.
    fn ref_mac(key: Option<&[u8]>, previous: &[u8], body: &[u8]) -> Hash {
        let mut message = previous.to_vec();
        message.extend_from_slice(&leaf_hash(body));
        match key {
            Some(key) if !key.is_empty() => {
                let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
                mac.update(&message);
                mac.finalize().into_bytes().into()
            }
            _ => Sha256::digest(&message).into(),
        }
    }

    #[test]
    fn a_known_line_seals_to_its_published_mac() {
        // tests/test_line_seal.py pins the same line.
        let stream = b"asgi_audit stream 0123456789abcdef";
        let root = Sha256::digest(leaf_hash(stream));
        let sealer = Sealer::new(Some(&[b'k'; 32]), b",\"mac\":\"fs-hmac-sha256:0:");
        let body = b"{\"event_type\":\"login\",\"stream\":\"0123456789abcdef\",\"seq\":1}";
        let line = [&body[..], b"\n"].concat();
        let mut tree = Frontier::default();
        let sealed = sealer.seal_many(&root, &mut tree, &[&line]);
        let pinned = "6dfa4566ac9a19a1d528382e2a2752e49d6e12dc5a35fb7ba7fb083fbbf1cdc4";
        let expected = format!(
            "{{\"event_type\":\"login\",\"stream\":\"0123456789abcdef\",\"seq\":1,\
             \"mac\":\"fs-hmac-sha256:0:{pinned}\"}}\n"
        );
        assert_eq!(String::from_utf8(sealed[0].clone()).unwrap(), expected);
        assert_eq!(tree.root(), leaf_hash(body));
    }

    #[test]
    fn the_empty_tree_and_short_lines_are_as_python_slices_them() {
        assert_eq!(
            hex(&Frontier::default().root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let sealer = Sealer::new(None, b"P");
        let mac = [0xab; 32];
        for line in [&b""[..], b"}", b"}\n"] {
            let sealed = sealer.sealed(line, &mac);
            assert_eq!(
                sealed,
                [&b"P"[..], "ab".repeat(32).as_bytes(), b"\"}\n"].concat()
            );
        }
        assert_eq!(body(b""), b"");
        assert_eq!(body(b"x"), b"");
        assert_eq!(head(b"xy\n"), b"x");
    }

    #[test]
    fn a_frontier_needs_one_hash_per_bit_of_its_size() {
        assert!(Frontier::new(5, vec![[0; 32]; 2]).is_some());
        assert!(Frontier::new(5, vec![[0; 32]; 1]).is_none());
        assert!(Frontier::new(MAX_SIZE + 1, vec![[0; 32]; 1]).is_none());
        assert!(Frontier::new(MAX_SIZE, vec![[0; 32]; 63]).is_some());
    }

    /// Random lines, keys around the block size and starts mid-stream, against
    /// the definition: every MAC anew, every root over all the leaves.
    #[test]
    fn random_streams_seal_as_the_definition() {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..300 {
            let key: Option<Vec<u8>> = match round % 5 {
                0 => None,
                1 => Some(vec![]),
                2 => Some(vec![7; 64]),
                3 => Some((0..65 + round).map(|i| i as u8).collect()),
                _ => Some((0..(next() % 40) as u8).collect()),
            };
            let label = format!(",\"mac\":\"fs-hmac-sha256:{round}:");
            let sealer = Sealer::new(key.as_deref(), label.as_bytes());
            let mut leaves: Vec<Hash> = (0..next() % 40).map(|i| leaf_hash(&[i as u8])).collect();
            let mut tree = Frontier::default();
            for leaf in &leaves {
                tree.append(*leaf);
            }
            let previous: Vec<u8> = (0..next() % 40).map(|_| next() as u8).collect();
            let lines: Vec<Vec<u8>> = (0..next() % 20)
                .map(|_| {
                    let mut line: Vec<u8> = (0..next() % 300).map(|_| next() as u8).collect();
                    line.extend_from_slice(b"}\n");
                    line
                })
                .collect();
            let views: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
            let sealed = sealer.seal_many(&previous, &mut tree, &views);
            let mut mac = previous.clone();
            for (line, out) in lines.iter().zip(&sealed) {
                let body = &line[..line.len() - 1];
                let next_mac = ref_mac(key.as_deref(), &mac, body);
                let mut expected = body[..body.len() - 1].to_vec();
                expected.extend_from_slice(label.as_bytes());
                expected.extend_from_slice(hex(&next_mac).as_bytes());
                expected.extend_from_slice(b"\"}\n");
                assert_eq!(out, &expected);
                leaves.push(leaf_hash(body));
                mac = next_mac.to_vec();
            }
            assert_eq!(tree.size(), leaves.len() as u64);
            assert_eq!(tree.root(), ref_root(&leaves));
        }
    }
}
