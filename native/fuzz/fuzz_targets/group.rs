//! A batch's lines grouped by category and sealed per stream (`group::group`):
//! whatever the lines, categories, streams and chain states, it never panics,
//! and each category's buffer is its lines in batch order, each sealed line the
//! one `Sealer::seal_many` gives for its stream alone, the counts and the first
//! index right, and each stream left where `seal_many` leaves it.

#![no_main]

use asgi_audit_native::group::{group, Chained};
use asgi_audit_native::seal::{Frontier, Sealer};
use libfuzzer_sys::fuzz_target;

/// `n` bytes from the front of `data`, fewer at its end.
fn take<'a>(data: &mut &'a [u8], n: usize) -> &'a [u8] {
    let (head, rest) = data.split_at(n.min(data.len()));
    *data = rest;
    head
}

fn byte(data: &mut &[u8]) -> u8 {
    take(data, 1).first().copied().unwrap_or(0)
}

const CATEGORIES: [&str; 4] = ["auth", "injection", "api_audit", "custom"];

fuzz_target!(|input: &[u8]| {
    let mut data = input;
    let streams = usize::from(byte(&mut data) % 3);
    let key_len = usize::from(byte(&mut data) % 40);
    let key = take(&mut data, key_len).to_vec();
    let sealers: Vec<Sealer> = (0..streams)
        .map(|s| {
            Sealer::new(
                Some(&key[..key.len() / (s + 1)]),
                format!(",\"mac\":\"l{s}:").as_bytes(),
            )
        })
        .collect();
    let count = usize::from(byte(&mut data) % 40);
    let mut lines = Vec::new();
    let mut categories = Vec::new();
    let mut slots = Vec::new();
    for _ in 0..count {
        let len = usize::from(byte(&mut data) % 24);
        let mut line = take(&mut data, len).to_vec();
        line.push(b'\n');
        lines.push(line);
        let category = usize::from(byte(&mut data)) % CATEGORIES.len();
        categories.push(CATEGORIES[category]);
        // A category is one stream (or none), as the writer's chains are.
        slots.push((streams > 0 && category % 2 == 0).then(|| category / 2 % streams));
    }
    let real = usize::from(byte(&mut data)) % (count + 1);
    let previous: Vec<Vec<u8>> = (0..streams).map(|s| vec![s as u8; 32]).collect();
    let mut chains: Vec<Chained> = sealers
        .iter()
        .zip(&previous)
        .map(|(sealer, previous)| Chained {
            sealer,
            previous: previous.clone(),
            tree: Frontier::default(),
        })
        .collect();
    let groups = group(&categories, &lines, &slots, &mut chains, real);

    // The reference: each stream's lines sealed alone, then placed by category.
    let mut sealed: Vec<Vec<u8>> = lines.clone();
    for (s, sealer) in sealers.iter().enumerate() {
        let at: Vec<usize> = (0..count).filter(|&i| slots[i] == Some(s)).collect();
        let own: Vec<&[u8]> = at.iter().map(|&i| lines[i].as_slice()).collect();
        let mut tree = Frontier::default();
        for (i, line) in at
            .iter()
            .zip(sealer.seal_many(&previous[s], &mut tree, &own))
        {
            sealed[*i] = line;
        }
        assert_eq!(chains[s].tree, tree);
        if let Some(&last) = at.last() {
            let line = &sealed[last];
            let hex = std::str::from_utf8(&line[line.len() - 67..line.len() - 3]).unwrap();
            let mac: Vec<u8> = (0..32)
                .map(|b| u8::from_str_radix(&hex[2 * b..2 * b + 2], 16).unwrap())
                .collect();
            assert_eq!(chains[s].previous, mac);
        } else {
            assert_eq!(chains[s].previous, previous[s]);
        }
    }
    let mut seen: Vec<&str> = Vec::new();
    for category in &categories {
        if !seen.contains(category) {
            seen.push(category);
        }
    }
    assert_eq!(groups.len(), seen.len());
    for (g, name) in groups.iter().zip(&seen) {
        let mine: Vec<usize> = (0..count).filter(|&i| categories[i] == *name).collect();
        assert_eq!(g.first, mine[0]);
        assert_eq!(g.count, mine.len());
        assert_eq!(g.real, mine.iter().filter(|&&i| i < real).count());
        let expected: Vec<u8> = mine.iter().flat_map(|&i| sealed[i].clone()).collect();
        assert_eq!(g.data, expected);
        assert_eq!(g.data.capacity(), g.data.len());
    }
});
