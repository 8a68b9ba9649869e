//! [`SecretValue`]: a secret string that never prints itself and is wiped
//! from memory when dropped.

use std::fmt;

use zeroize::Zeroizing;

/// A secret value (an API key, a password, an intake key…).
///
/// `Debug` and `Display` print `[redacted]`; the bytes are overwritten with
/// zeros when the value is dropped. It has no `Serialize` impl on purpose: the
/// only way out is [`SecretValue::expose`], so a secret never lands in a log
/// line, an error message or `--json` output by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(Zeroizing<String>);

impl SecretValue {
    /// Wraps `value`; the string's buffer is wiped when the `SecretValue` drops.
    pub fn new(value: String) -> Self {
        Self(Zeroizing::new(value))
    }

    /// The plaintext. Call it only where the value is really used (handed to
    /// an adapter, printed by `secrets get --reveal`).
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }

    /// Length in bytes (handy to size buffers without looking at the value).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the value is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for SecretValue {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for SecretValue {
    fn from(value: &str) -> Self {
        Self::new(value.to_owned())
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_itself() {
        let v = SecretValue::from("hunter2");
        assert_eq!(format!("{v}"), "[redacted]");
        assert_eq!(format!("{v:?}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(&v)), "Some([redacted])");
        assert_eq!(v.expose(), "hunter2");
        assert_eq!(v.len(), 7);
    }
}
