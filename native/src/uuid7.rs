//! RFC 9562 UUIDv7 event ids: the compiled form of
//! `asgi_audit.record.events.Uuid7Generator`, with the same bit layout.
//!
//! 48 bits of Unix milliseconds, 12 bits of sub-millisecond time, 62 random bits.
//! Ids are strictly increasing in the order they are drawn, even when the clock
//! stands still or steps back (the last value is kept and bumped). The random
//! bits are read from the system 4 KiB at a time; a process whose id changed (a
//! forked child) throws the unread bytes and the last id away first.

const POOL_BYTES: usize = 4096;
const RAND_MASK: u64 = 0x3FFF_FFFF_FFFF_FFFF;
const VARIANT: u64 = 0b10 << 62;

/// The generator's state: the last id and the pool of random bytes.
pub struct Uuid7 {
    last: (u64, u64),
    pool: Vec<u8>,
    pos: usize,
    pid: u32,
}

impl Default for Uuid7 {
    fn default() -> Self {
        Self::new()
    }
}

impl Uuid7 {
    pub fn new() -> Self {
        Uuid7 {
            last: (0, 0),
            pool: Vec::new(),
            pos: 0,
            pid: std::process::id(),
        }
    }

    /// `(when, rand)` of the next id for the moment `time_ns` (nanoseconds since
    /// the epoch): 60 bits of time and 62 random bits; ids order as these pairs do.
    pub fn next(&mut self, time_ns: i128) -> (u64, u64) {
        self.next_at(when_of(time_ns))
    }

    /// `(when, rand)` of the next id for the 60 time bits `when` ([`when_of`]).
    pub fn next_at(&mut self, when: u64) -> (u64, u64) {
        self.after_fork();
        self.draw(when)
    }

    /// [`Uuid7::next_at`] for each of `whens` in order, the process checked
    /// once (a system call) rather than once per id.
    pub fn next_many(&mut self, whens: &[u64]) -> Vec<(u64, u64)> {
        self.after_fork();
        whens.iter().map(|&when| self.draw(when)).collect()
    }

    /// A forked child starts its own order and its own random bytes.
    fn after_fork(&mut self) {
        let pid = std::process::id();
        if pid != self.pid {
            self.last = (0, 0);
            self.pool.clear();
            self.pos = 0;
            self.pid = pid;
        }
    }

    fn draw(&mut self, mut when: u64) -> (u64, u64) {
        if self.pos >= self.pool.len() {
            self.pool = vec![0; POOL_BYTES];
            getrandom::fill(&mut self.pool).expect("the system's random source");
            self.pos = 0;
        }
        let bytes: [u8; 8] = self.pool[self.pos..self.pos + 8].try_into().unwrap();
        self.pos += 8;
        let mut rand = u64::from_be_bytes(bytes) & RAND_MASK;
        let (last_when, last_rand) = self.last;
        if when < last_when || (when == last_when && rand <= last_rand) {
            when = last_when;
            rand = last_rand + 1;
            if rand > RAND_MASK {
                when += 1;
                rand = 0;
            }
        }
        self.last = (when, rand);
        (when, rand)
    }

    /// The 128-bit value of a new id.
    pub fn new_int(&mut self, time_ns: i128) -> u128 {
        let (when, rand) = self.next(time_ns);
        to_int(when, rand)
    }

    /// A new id in the canonical 8-4-4-4-12 form.
    pub fn new_id(&mut self, time_ns: i128) -> String {
        let (when, rand) = self.next(time_ns);
        format_id(when, rand)
    }
}

/// The 60 time bits of the moment `time_ns`: 48 of milliseconds (the low bits of
/// their two's complement, as Python's `&` gives), 12 of the sub-millisecond
/// fraction.
pub fn when_of(time_ns: i128) -> u64 {
    let millis = time_ns.div_euclid(1_000_000);
    let sub = time_ns.rem_euclid(1_000_000) as u64;
    (((millis as u64) & 0xFFFF_FFFF_FFFF) << 12) | (sub * 4096 / 1_000_000)
}

/// The 128-bit value of `(when, rand)`.
pub fn to_int(when: u64, rand: u64) -> u128 {
    (((when >> 12) as u128) << 80)
        | (0x7 << 76)
        | (((when & 0xFFF) as u128) << 64)
        | ((0b10u128) << 62)
        | rand as u128
}

/// `(when, rand)` in the canonical form, as the reference spells it.
pub fn format_id(when: u64, rand: u64) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    // 128 bits: 48 of ms, the version 7, 12 of sub-ms, then the variant and 62 random.
    let value = (u128::from(when >> 12) << 80)
        | (0x7 << 76)
        | (u128::from(when & 0xFFF) << 64)
        | u128::from(rand | VARIANT);
    let mut out = [0u8; 36];
    let mut at = 0;
    for i in (0..32).rev() {
        if matches!(at, 8 | 13 | 18 | 23) {
            out[at] = b'-';
            at += 1;
        }
        out[at] = HEX[((value >> (i * 4)) & 0xF) as usize];
        at += 1;
    }
    std::str::from_utf8(&out).expect("ASCII").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_increase_when_the_clock_stands_still_or_steps_back() {
        let mut ids = Uuid7::new();
        let mut last = ids.new_int(1_700_000_000_123_456_789);
        for t in [1_700_000_000_123_456_789, 1_600_000_000_000_000_000, 0] {
            let next = ids.new_int(t);
            assert!(next > last);
            last = next;
        }
        for _ in 0..2000 {
            let next = ids.new_int(1_700_000_000_000_000_000);
            assert!(next > last);
            last = next;
        }
    }

    #[test]
    fn the_layout_is_rfc_9562s() {
        let mut ids = Uuid7::new();
        let id = ids.new_id(1_700_000_000_123_456_789);
        assert_eq!(id.len(), 36);
        assert!(id.starts_with("018bcfe5-687b-7"));
        assert!(matches!(id.as_bytes()[19], b'8' | b'9' | b'a' | b'b'));
        assert_eq!(format_id(0, 0), "00000000-0000-7000-8000-000000000000");
    }
}
