//! A wrapper for secret values such as key passwords.

use std::fmt;

/// A secret string: its `Debug` output is `[redacted]` and it has no `Display`, so it cannot
/// reach a log line or an error message by accident. Read it with [`Secret::expose`] where it
/// is used.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_is_redacted() {
        let secret = Secret::new("correct horse battery staple");

        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(&secret)), "Some([redacted])");
    }

    #[test]
    fn expose_gives_the_value_back() {
        assert_eq!(Secret::new("pw").expose(), "pw");
    }
}
