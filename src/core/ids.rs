//! Typed identifiers, so an ID of one kind cannot be passed where another is expected.

use crate::Error;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps an identifier. Any string is accepted here; an unusable one (empty, `.`
            /// or `..`) is reported as [`Error::InvalidArgument`] when a call uses it.
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// The identifier as a string.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The identifier as one URL path segment, or why it cannot be one.
            ///
            /// An empty ID would silently address the collection instead of one item, and `.`
            /// and `..` are dot segments that URL normalization removes, so all three are
            /// rejected. Everything else is percent-encoded by the generated client.
            pub(crate) fn segment(&self) -> Result<&str, Error> {
                check_segment($what, &self.0)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::convert::Infallible;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok(Self::new(s))
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self::new(id)
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self::new(id)
            }
        }

        impl From<&$name> for $name {
            fn from(id: &$name) -> Self {
                id.clone()
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

pub(crate) fn check_segment<'a>(what: &str, id: &'a str) -> Result<&'a str, Error> {
    match id {
        "" => Err(Error::InvalidArgument(format!("{what} is empty"))),
        "." | ".." => Err(Error::InvalidArgument(format!(
            "{what} {id:?} is a dot segment and cannot address a resource"
        ))),
        _ => Ok(id),
    }
}

id_type!(
    /// A Cloudflare account identifier (at most 32 characters, usually hex).
    AccountId,
    "account ID"
);
id_type!(
    /// The `uid` of a Cloudflare Calls app.
    CallsAppId,
    "Calls app ID"
);
id_type!(
    /// The `account_app_id` of a Cloudflare Magic account app.
    MagicAppId,
    "Magic app ID"
);
id_type!(
    /// The identifier of a Hover app (`data.id`, a string of digits).
    HoverAppId,
    "Hover app ID"
);

impl From<i64> for HoverAppId {
    fn from(id: i64) -> Self {
        Self::new(id.to_string())
    }
}
