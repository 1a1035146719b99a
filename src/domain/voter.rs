//! The anonymous voter: a random id kept in a cookie.

use std::fmt;

/// 128 random bits as 32 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VoterId(String);

impl VoterId {
    /// A new random id.
    pub fn random() -> Self {
        Self(random_hex(1))
    }

    /// Accepts exactly what [`VoterId::random`] makes, so a cookie cannot smuggle anything else.
    pub fn parse(value: &str) -> Option<Self> {
        is_hex(value, 32).then(|| Self(value.to_owned()))
    }

    /// The id as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `blocks` × 128 random bits as lowercase hex (32 digits per block).
pub fn random_hex(blocks: usize) -> String {
    (0..blocks).map(|_| format!("{:032x}", rand::random::<u128>())).collect()
}

/// Whether `value` is exactly `digits` lowercase hex digits, as [`random_hex`] makes them.
pub fn is_hex(value: &str, digits: usize) -> bool {
    value.len() == digits && value.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl fmt::Display for VoterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_parse_back_and_differ() {
        let a = VoterId::random();
        assert_eq!(VoterId::parse(a.as_str()), Some(a.clone()));
        assert_ne!(a, VoterId::random());
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in ["", "abc", &"g".repeat(32), &"A".repeat(32), &"0".repeat(33), "0123456789abcdef0123456789abcde;"] {
            assert_eq!(VoterId::parse(bad), None, "{bad:?}");
        }
    }
}
