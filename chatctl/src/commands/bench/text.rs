//! What the load is made of: the generated sentences of created messages, and the built-in
//! search texts (common, rare and absent substrings of them); a mixing function that spreads
//! requests over operations and chats.

/// Words of the generated messages; the search queries are substrings of them.
const WORDS: [&str; 32] = [
    "the",
    "meeting",
    "was",
    "moved",
    "to",
    "tomorrow",
    "morning",
    "please",
    "bring",
    "your",
    "laptop",
    "and",
    "silver",
    "charger",
    "ocean",
    "breeze",
    "coffee",
    "order",
    "shipped",
    "customer",
    "asked",
    "about",
    "refund",
    "wonderful",
    "weather",
    "today",
    "release",
    "deployment",
    "network",
    "latency",
    "station",
    "information",
];
/// Common and rare substrings, within words and across them.
pub(super) const QUERIES: [&str; 6] =
    ["onderf", "ation", "ocean bre", "RELEASE", "ing mor", "qqxj"];

/// A deterministic sentence generator (xorshift), so runs create comparable text.
pub struct Text(u64);

impl Text {
    /// A generator from a seed (any value but 0 works; 0 is replaced).
    pub fn new(seed: u64) -> Self {
        Text(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Words until `size` characters, cut to exactly `size`.
    pub fn body(&mut self, size: usize) -> String {
        let mut s = String::with_capacity(size + 16);
        while s.len() < size {
            if !s.is_empty() {
                s.push(' ');
            }
            s.push_str(WORDS[(self.next() % WORDS.len() as u64) as usize]);
        }
        s.truncate(size);
        // A cut right after a space would leave a trailing blank: bodies are never blank.
        if s.trim().is_empty() {
            s = "x".repeat(size.max(1));
        }
        s
    }
}

/// A mixing function: a well-spread number for each request index.
pub(super) fn spread(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
