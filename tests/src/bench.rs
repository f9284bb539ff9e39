//! What the benchmark programs (`searchbench`, `transferbench`) share: their numeric flags and
//! a deterministic generator of message text.

/// The value of `--name N` on the command line, or `default`.
pub fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().expect("a number"))
}

/// A deterministic generator (xorshift): the same seed gives the same data on every run.
pub struct Gen(pub u64);

impl Gen {
    /// The next pseudo-random number.
    pub fn number(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// At least 64 characters: words of `words` picked at random, separated by spaces.
    pub fn sentence(&mut self, words: &[&str]) -> String {
        let mut s = String::with_capacity(96);
        while s.len() < 64 {
            if !s.is_empty() {
                s.push(' ');
            }
            s.push_str(words[(self.number() % words.len() as u64) as usize]);
        }
        s
    }
}
