//! A string that never shows itself in `Debug`, `Display`, errors or logs.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

/// A secret string: an API token or key, a password, a Calls app `secret`, a Hover app `token`
/// or `webhook_secret`.
///
/// `Debug` and `Display` print `[redacted]`. The `Secret` itself is zeroed on drop; the
/// copies made to use it are not (the header value or request body that carries it, and
/// reqwest's and hyper's buffers), so do not count on a secret leaving memory when dropped.
/// Read it with [`Secret::expose`], which marks every place a secret leaves this type. Serializing it writes
/// the real value, because request bodies (a Hover password) need it; never serialize a
/// model holding one into a log.
///
/// ```
/// use apps_api::Secret;
/// let token = Secret::new("s3cr3t");
/// assert_eq!(format!("{token:?} {token}"), "[redacted] [redacted]");
/// assert_eq!(token.expose(), "s3cr3t");
/// ```
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(SecretString::from(value.into()))
    }

    /// The value itself. Call it only where the value must leave the process or be compared.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// Compares with `other` in time that does not depend on where the two differ.
    pub fn ct_eq(&self, other: &str) -> bool {
        self.expose().as_bytes().ct_eq(other.as_bytes()).into()
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other.expose())
    }
}

impl Eq for Secret {}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.expose())
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::new)
    }
}
