//! A batch's lines sealed and grouped by category, as the writer appends them:
//! the compiled form of `Chain.seal_many` per stream followed by the writer's
//! `Encoded.place` and `b"".join` per category.
//!
//! Each stream's lines are sealed in batch order ([`Sealer::macs`]); each
//! category's lines, sealed or not, are concatenated in batch order into one
//! buffer, ready for one `write()`.

use crate::seal::{Frontier, Hash, Sealer};

/// One stream's sealing state: its sealer, the MAC its next line chains to,
/// and its Merkle frontier. [`group`] leaves them where sealing the batch's
/// lines of that stream leaves them.
pub struct Chained<'a> {
    pub sealer: &'a Sealer,
    pub previous: Vec<u8>,
    pub tree: Frontier,
}

/// One category's lines of a batch.
#[derive(Debug, PartialEq, Eq)]
pub struct Group {
    /// Index in the batch of the category's first event.
    pub first: usize,
    /// The lines, each ending in `\n`, in batch order.
    pub data: Vec<u8>,
    /// How many lines.
    pub count: usize,
    /// How many of them belong to the batch's first `real` events.
    pub real: usize,
}

/// `lines[i]` (event `i`'s unsealed line, of category `categories[i]`) sealed
/// into `chains[slots[i]]` where it has a slot, grouped by category in order of
/// first appearance.
///
/// # Panics
///
/// When the three slices differ in length or a slot is past `chains`.
pub fn group(
    categories: &[&str],
    lines: &[Vec<u8>],
    slots: &[Option<usize>],
    chains: &mut [Chained],
    real: usize,
) -> Vec<Group> {
    assert!(categories.len() == lines.len() && lines.len() == slots.len());
    // Each stream's MACs, in batch order.
    let mut macs: Vec<Vec<Hash>> = Vec::with_capacity(chains.len());
    for (c, chain) in chains.iter_mut().enumerate() {
        let own: Vec<&[u8]> = lines
            .iter()
            .zip(slots)
            .filter(|(_, slot)| **slot == Some(c))
            .map(|(line, _)| line.as_slice())
            .collect();
        let made = chain.sealer.macs(&chain.previous, &mut chain.tree, &own);
        if let Some(last) = made.last() {
            chain.previous = last.to_vec();
        }
        macs.push(made);
    }
    // Each event's group, and each group's exact size: its buffer is allocated
    // once (a buffer grown by doubling would hold up to twice the lines' size).
    let mut names: Vec<&str> = Vec::new();
    let mut sizes: Vec<usize> = Vec::new();
    let mut firsts: Vec<usize> = Vec::new();
    let mut owner: Vec<usize> = Vec::with_capacity(lines.len());
    for (i, ((category, line), slot)) in categories.iter().zip(lines).zip(slots).enumerate() {
        let at = names
            .iter()
            .position(|name| name == category)
            .unwrap_or_else(|| {
                names.push(category);
                sizes.push(0);
                firsts.push(i);
                names.len() - 1
            });
        sizes[at] += match slot {
            Some(c) => chains[*c].sealer.sealed_len(line),
            None => line.len(),
        };
        owner.push(at);
    }
    let mut groups: Vec<Group> = sizes
        .iter()
        .zip(&firsts)
        .map(|(&size, &first)| Group {
            first,
            data: Vec::with_capacity(size),
            count: 0,
            real: 0,
        })
        .collect();
    let mut next = vec![0usize; chains.len()];
    for (i, (line, slot)) in lines.iter().zip(slots).enumerate() {
        let out = &mut groups[owner[i]];
        match slot {
            Some(c) => {
                let sealer = chains[*c].sealer;
                let start = out.data.len();
                out.data.resize(start + sealer.sealed_len(line), 0);
                sealer.write_sealed(line, &macs[*c][next[*c]], &mut out.data[start..]);
                next[*c] += 1;
            }
            None => out.data.extend_from_slice(line),
        }
        out.count += 1;
        if i < real {
            out.real += 1;
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(n: usize) -> Vec<u8> {
        format!("{{\"n\":{n}}}\n").into_bytes()
    }

    #[test]
    fn lines_are_grouped_in_order_and_sealed_as_seal_many() {
        let sealer = Sealer::new(Some(b"k"), b",\"mac\":\"hmac-sha256:");
        let lines: Vec<Vec<u8>> = (0..6).map(line).collect();
        let categories = ["a", "b", "a", "c", "b", "a"];
        let slots = [Some(0), None, Some(0), Some(1), None, Some(0)];
        let root = vec![7u8; 32];
        let mut chains = [
            Chained {
                sealer: &sealer,
                previous: root.clone(),
                tree: Frontier::default(),
            },
            Chained {
                sealer: &sealer,
                previous: root.clone(),
                tree: Frontier::default(),
            },
        ];
        let groups = group(&categories, &lines, &slots, &mut chains, 4);
        // The same lines one stream at a time, as Chain.seal_many seals them.
        let mut tree = Frontier::default();
        let a: Vec<&[u8]> = [0, 2, 5].iter().map(|&i| lines[i].as_slice()).collect();
        let sealed_a = sealer.seal_many(&root, &mut tree, &a).concat();
        let mut tree_c = Frontier::default();
        let sealed_c = sealer.seal_many(&root, &mut tree_c, &[&lines[3]]).concat();
        assert_eq!(
            groups,
            vec![
                Group {
                    first: 0,
                    data: sealed_a,
                    count: 3,
                    real: 2
                },
                Group {
                    first: 1,
                    data: [lines[1].clone(), lines[4].clone()].concat(),
                    count: 2,
                    real: 1
                },
                Group {
                    first: 3,
                    data: sealed_c,
                    count: 1,
                    real: 1
                },
            ]
        );
        assert_eq!(chains[0].tree.root(), tree.root());
        assert_eq!(chains[0].tree.size(), 3);
        assert_eq!(chains[1].tree.size(), 1);
        assert_ne!(chains[0].previous, root);
    }

    #[test]
    fn a_stream_without_lines_is_left_as_it_was() {
        let sealer = Sealer::new(None, b",\"mac\":\"sha256:");
        let mut chains = [Chained {
            sealer: &sealer,
            previous: vec![1; 32],
            tree: Frontier::default(),
        }];
        let groups = group(&["a"], &[line(1)], &[None], &mut chains, 0);
        assert_eq!(groups[0].data, line(1));
        assert_eq!(groups[0].real, 0);
        assert_eq!(chains[0].previous, vec![1; 32]);
        assert_eq!(chains[0].tree.size(), 0);
    }
}
