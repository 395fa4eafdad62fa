//! Lines sealed from any chain state: in one batch (`Sealer::seal_many`) and one
//! by one (`Sealer::mac` and `Sealer::sealed`), they never panic and are the
//! lines of a from-scratch reference: every MAC keyed anew over `previous ||
//! SHA-256(0x00 || body)`, the line spliced by hand, and the tree's root
//! recomputed over every leaf by RFC 9162's recursive definition.

#![no_main]

use asgi_audit_native::seal::{leaf_hash, node_hash, Frontier, Hash, Sealer};
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

fn ref_root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Sha256::digest(b"").into(),
        1 => leaves[0],
        n => {
            let mut k = 1;
            while k * 2 < n {
                k *= 2;
            }
            node_hash(&ref_root(&leaves[..k]), &ref_root(&leaves[k..]))
        }
    }
}

fn ref_mac(key: &[u8], previous: &[u8], body: &[u8]) -> Hash {
    let mut message = previous.to_vec();
    message.extend_from_slice(
        &Sha256::new()
            .chain_update([0])
            .chain_update(body)
            .finalize(),
    );
    if key.is_empty() {
        return Sha256::digest(&message).into();
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any length");
    mac.update(&message);
    mac.finalize().into_bytes().into()
}

fn ref_line(line: &[u8], prefix: &[u8], mac: &Hash) -> Vec<u8> {
    let keep = line.len().saturating_sub(2);
    let mut out = line[..keep].to_vec();
    out.extend_from_slice(prefix);
    for byte in mac {
        out.extend_from_slice(format!("{byte:02x}").as_bytes());
    }
    out.extend_from_slice(b"\"}\n");
    out
}

/// `n` bytes from the front of `data`, fewer at its end.
fn take<'a>(data: &mut &'a [u8], n: usize) -> &'a [u8] {
    let (head, rest) = data.split_at(n.min(data.len()));
    *data = rest;
    head
}

fn byte(data: &mut &[u8]) -> usize {
    take(data, 1).first().map_or(0, |&b| usize::from(b))
}

/// A length byte (below `bound`), then that many bytes.
fn field<'a>(data: &mut &'a [u8], bound: usize) -> &'a [u8] {
    let n = byte(data) % bound;
    take(data, n)
}

fuzz_target!(|input: &[u8]| {
    let mut data = input;
    // The key: none, or up to 255 bytes (past HMAC's 64-byte block).
    let key = match byte(&mut data) {
        0 => None,
        _ => Some(field(&mut data, 256).to_vec()),
    };
    let prefix = field(&mut data, 40).to_vec();
    let previous = field(&mut data, 70).to_vec();
    // A tree of up to 4095 leaves already.
    let size = byte(&mut data) << 8;
    let size = (size | byte(&mut data)) % 4096;
    let mut leaves: Vec<Hash> = (0..size as u32)
        .map(|i| leaf_hash(&i.to_le_bytes()))
        .collect();
    let mut tree = Frontier::default();
    for leaf in &leaves {
        tree.append(*leaf);
    }
    assert_eq!(tree.root(), ref_root(&leaves));
    // The rest: lines, each after a length byte.
    let mut lines = Vec::new();
    while !data.is_empty() {
        let n = byte(&mut data) * 3;
        lines.push(take(&mut data, n));
    }

    let sealer = Sealer::new(key.as_deref(), &prefix);
    let mut batch_tree = tree.clone();
    let batch = sealer.seal_many(&previous, &mut batch_tree, &lines);
    assert_eq!(batch.len(), lines.len());

    let mut mac = previous.clone();
    for (line, sealed) in lines.iter().zip(&batch) {
        let fresh = ref_mac(
            key.as_deref().unwrap_or(b""),
            &mac,
            &line[..line.len().saturating_sub(1)],
        );
        let one = sealer.mac(&mac, &mut tree, line);
        assert_eq!(one, fresh);
        assert_eq!(sealer.sealed(line, &one), *sealed);
        assert_eq!(*sealed, ref_line(line, &prefix, &fresh));
        leaves.push(leaf_hash(&line[..line.len().saturating_sub(1)]));
        mac = fresh.to_vec();
    }
    assert_eq!(tree, batch_tree);
    assert_eq!(tree.size(), leaves.len() as u64);
    assert_eq!(tree.root(), ref_root(&leaves));
});
