//! Join codes: six characters a person reads off a slide and types on a phone.
//!
//! A code is a keyed permutation of what it leads to (a poll, or a theme's presentation),
//! written in an alphabet without look-alikes. Being a permutation, two things never share
//! a code and nothing has to be stored or checked for it; being keyed (one random key per
//! database, made by the migration), consecutive polls get unrelated codes, so a code says
//! nothing about how many polls exist.

/// The characters codes are written in: digits and capitals without 0/O, 1/I/L.
pub const ALPHABET: &[u8; 31] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
/// Characters in a code.
pub const LENGTH: usize = 6;
/// How many codes there are: 31⁶.
const CODES: u64 = 887_503_681;
/// The permutation works on 30 bits (two halves of 15), walking the cycle until it lands
/// below [`CODES`].
const HALF_BITS: u32 = 15;
const HALF_MASK: u64 = (1 << HALF_BITS) - 1;
const ROUNDS: usize = 4;

/// What a code leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Joined {
    /// A poll, by id.
    Poll(i64),
    /// A theme's presentation, by the theme's id.
    Theme(i64),
}

impl Joined {
    /// Its place among the codes: polls even, themes odd. `None` past the last code.
    fn number(self) -> Option<u64> {
        let (id, kind) = match self {
            Self::Poll(id) => (id, 0),
            Self::Theme(id) => (id, 1),
        };
        let number = u64::try_from(id).ok()?.checked_mul(2)? + kind;
        (number < CODES).then_some(number)
    }

    fn from_number(number: u64) -> Self {
        let id = i64::try_from(number / 2).unwrap_or(i64::MAX);
        if number.is_multiple_of(2) { Self::Poll(id) } else { Self::Theme(id) }
    }
}

/// Why a typed code is not one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeProblem {
    /// Nothing typed.
    Blank,
    /// Not six characters (spaces and dashes aside).
    Length(usize),
    /// A character codes never use.
    Character(char),
}

impl CodeProblem {
    /// Said to the person who typed it.
    pub fn describe(&self) -> String {
        match self {
            Self::Blank => "Type the code shown on the screen.".to_owned(),
            Self::Length(1) => format!("A join code has {LENGTH} characters; 1 was typed."),
            Self::Length(n) => format!("A join code has {LENGTH} characters; {n} were typed."),
            Self::Character(c) => {
                format!("A join code has no {c}: codes use the digits 2–9 and the letters A–Z except I, L and O.")
            }
        }
    }
}

/// Makes and reads codes with one database's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JoinCodes {
    rounds: [u64; ROUNDS],
}

/// SplitMix64's finaliser: a well-mixed 64 bits from any 64 bits.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl JoinCodes {
    /// Codes under `key` (the database's `site_keys.join_codes`).
    pub fn new(key: i64) -> Self {
        let mut state = key.cast_unsigned();
        let rounds = std::array::from_fn(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            mix(state)
        });
        Self { rounds }
    }

    fn round(&self, i: usize, half: u64) -> u64 {
        mix(half ^ self.rounds[i]) & HALF_MASK
    }

    /// One pass of the Feistel network over 30 bits.
    fn forward(&self, x: u64) -> u64 {
        let (mut left, mut right) = (x >> HALF_BITS, x & HALF_MASK);
        for i in 0..ROUNDS {
            (left, right) = (right, left ^ self.round(i, right));
        }
        (left << HALF_BITS) | right
    }

    fn backward(&self, x: u64) -> u64 {
        let (mut left, mut right) = (x >> HALF_BITS, x & HALF_MASK);
        for i in (0..ROUNDS).rev() {
            (left, right) = (right ^ self.round(i, left), left);
        }
        (left << HALF_BITS) | right
    }

    /// Walks the cycle of `step` from `x` (below [`CODES`]) to the next value below it:
    /// a permutation of `0..CODES`, since `step` permutes `0..2³⁰`.
    fn walk(x: u64, step: impl Fn(u64) -> u64) -> u64 {
        let mut y = step(x);
        while y >= CODES {
            y = step(y);
        }
        y
    }

    /// The code of `target`; `None` for an id past the last code (over 400 million).
    pub fn code(&self, target: Joined) -> Option<String> {
        let mut n = Self::walk(target.number()?, |x| self.forward(x));
        let mut code = [0_u8; LENGTH];
        for slot in code.iter_mut().rev() {
            *slot = ALPHABET[usize::try_from(n % 31).unwrap_or(0)];
            n /= 31;
        }
        Some(String::from_utf8_lossy(&code).into_owned())
    }

    /// What a typed code leads to, if anything has that id. Case does not matter, nor do
    /// spaces or dashes between the characters.
    pub fn read(&self, typed: &str) -> Result<Joined, CodeProblem> {
        let chars: Vec<char> =
            typed.chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_uppercase()).collect();
        if chars.is_empty() {
            return Err(CodeProblem::Blank);
        }
        if let Some(bad) = chars.iter().find(|c| !c.is_ascii() || !ALPHABET.contains(&(**c as u8))) {
            return Err(CodeProblem::Character(*bad));
        }
        if chars.len() != LENGTH {
            return Err(CodeProblem::Length(chars.len()));
        }
        let mut n: u64 = 0;
        for c in chars {
            let digit = ALPHABET.iter().position(|a| char::from(*a) == c).unwrap_or(0);
            n = n * 31 + digit as u64;
        }
        Ok(Joined::from_number(Self::walk(n, |x| self.backward(x))))
    }

    /// The code as typed canonically (capitals), if `typed` is one.
    pub fn canonical(&self, typed: &str) -> Result<String, CodeProblem> {
        let joined = self.read(typed)?;
        Ok(self.code(joined).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_poll_and_theme_gets_its_own_code_and_reads_back() {
        let codes = JoinCodes::new(0x1234_5678_9abc);
        let mut seen = HashSet::new();
        for id in 1..=20_000 {
            for target in [Joined::Poll(id), Joined::Theme(id)] {
                let code = codes.code(target).expect("a code");
                assert_eq!(code.len(), LENGTH);
                assert!(code.bytes().all(|b| ALPHABET.contains(&b)), "{code}");
                assert!(seen.insert(code.clone()), "{code} given twice");
                assert_eq!(codes.read(&code), Ok(target));
                assert_eq!(codes.read(&code.to_lowercase()), Ok(target), "case-insensitive");
            }
        }
        // The far end of the range still has codes; past it, none.
        let last = ((CODES - 1) / 2) as i64;
        let code = codes.code(Joined::Poll(last)).expect("the last poll's code");
        assert_eq!(codes.read(&code), Ok(Joined::Poll(last)));
        assert_eq!(codes.code(Joined::Poll(last + 1)), None);
        assert_eq!(codes.code(Joined::Poll(-1)), None);
    }

    #[test]
    fn consecutive_polls_get_unrelated_codes_and_another_database_other_codes() {
        let (one, two) = (JoinCodes::new(1), JoinCodes::new(2));
        let first: Vec<String> = (1..=50).map(|id| one.code(Joined::Poll(id)).expect("code")).collect();
        let other: Vec<String> = (1..=50).map(|id| two.code(Joined::Poll(id)).expect("code")).collect();
        assert_ne!(first, other);
        // No shared prefix runs: neighbours differ in most places, as random codes would.
        let alike: usize =
            first.windows(2).map(|w| w[0].bytes().zip(w[1].bytes()).filter(|(a, b)| a == b).count()).sum();
        assert!(alike < 49 * 2, "{alike} places alike between neighbours: {first:?}");
        let mut sorted = first.clone();
        sorted.sort();
        assert_ne!(sorted, first, "codes must not follow the ids' order");
    }

    #[test]
    fn typed_codes_are_forgiving_of_case_and_spacing_and_say_what_is_wrong() {
        let codes = JoinCodes::new(7);
        let code = codes.code(Joined::Poll(42)).expect("code");
        let spaced = format!(" {}-{} ", &code[..3], code[3..].to_lowercase());
        assert_eq!(codes.read(&spaced), Ok(Joined::Poll(42)));
        assert_eq!(codes.canonical(&spaced).as_deref(), Ok(code.as_str()));
        assert_eq!(codes.read("  "), Err(CodeProblem::Blank));
        assert_eq!(codes.read("ABC"), Err(CodeProblem::Length(3)));
        assert_eq!(codes.read("ABCDEFG"), Err(CodeProblem::Length(7)));
        assert_eq!(codes.read("AB0DEF"), Err(CodeProblem::Character('0')));
        assert_eq!(codes.read("ablDEF"), Err(CodeProblem::Character('L')));
        assert_eq!(codes.read("ABÇDEF"), Err(CodeProblem::Character('Ç')));
        assert!(CodeProblem::Character('O').describe().contains("no O"), "{}", CodeProblem::Character('O').describe());
        assert_eq!(CodeProblem::Length(3).describe(), "A join code has 6 characters; 3 were typed.");
    }
}
