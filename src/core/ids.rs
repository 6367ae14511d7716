//! Typed identifiers, so an ID of one kind cannot be passed where another is expected, and
//! checked once, here, against what the real APIs issue, so an ID can never leave its path
//! segment.
//!
//! Why an allow-list and not encoding: the generated client percent-encodes path parameters,
//! but it leaves `\` alone (which URL parsers treat as `/` in http(s) URLs), dot segments are
//! removed by URL normalization even when percent-encoded, and a server or proxy may decode
//! `%2F` before routing. An ID made only of ASCII letters, digits, `-` and `_` needs no
//! encoding and means the same to every parser on the way.

use crate::Error;

/// The characters an ID may contain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Alphabet {
    /// ASCII letters, digits, `-` and `_`: every Cloudflare identifier (hex in practice).
    Safe,
    /// ASCII digits: Hover's IDs are integers (`data.id` is `"43120"`).
    Digits,
}

impl Alphabet {
    fn allows(self, byte: u8) -> bool {
        match self {
            Alphabet::Safe => byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_',
            Alphabet::Digits => byte.is_ascii_digit(),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Alphabet::Safe => "ASCII letters, digits, '-' and '_'",
            Alphabet::Digits => "ASCII digits",
        }
    }

    /// The same rule as an OpenAPI `pattern` (the specs carry it; a test compares them).
    #[cfg(test)]
    pub(crate) fn pattern(self) -> &'static str {
        match self {
            Alphabet::Safe => "^[A-Za-z0-9_-]+$",
            Alphabet::Digits => "^[0-9]+$",
        }
    }
}

/// What one kind of ID must look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IdRule {
    /// The kind, as error messages name it.
    pub(crate) what: &'static str,
    pub(crate) min_len: usize,
    pub(crate) max_len: usize,
    pub(crate) alphabet: Alphabet,
}

/// How many characters of a rejected value an error message may quote.
const QUOTED_CHARS: usize = 8;

impl IdRule {
    /// `id` if it satisfies the rule, or an [`Error::InvalidArgument`] that names the kind and
    /// the rule and quotes at most the first few characters, escaped.
    pub(crate) fn check<'a>(&self, id: &'a str) -> Result<&'a str, Error> {
        let length = id.chars().count();
        let problem = if id.is_empty() {
            "is empty".to_string()
        } else if let Some(bad) = id.bytes().position(|b| !self.alphabet.allows(b)) {
            // `bad` is a byte offset; report the character it starts (or is inside of).
            let at = id[..].char_indices().take_while(|(i, _)| *i <= bad).count();
            format!("has a character that is not allowed at position {at}")
        } else if length < self.min_len || length > self.max_len {
            format!("has {length} characters")
        } else {
            return Ok(id);
        };
        Err(Error::InvalidArgument(format!(
            "{} {} {problem}; it must be {} of {}, and nothing was sent",
            self.what,
            quote(id),
            self.length_rule(),
            self.alphabet.describe()
        )))
    }

    fn length_rule(&self) -> String {
        if self.min_len == self.max_len {
            format!("exactly {} characters", self.max_len)
        } else {
            format!("{} to {} characters", self.min_len, self.max_len)
        }
    }
}

/// The first few characters of an untrusted value, escaped, for an error message.
fn quote(value: &str) -> String {
    let mut shown: String = value
        .chars()
        .take(QUOTED_CHARS)
        .flat_map(char::escape_debug)
        .collect();
    if value.chars().count() > QUOTED_CHARS {
        shown.push('…');
    }
    format!("\"{shown}\"")
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $rule:expr) => {
        id_type!(@define $(#[$doc])* $name, $rule);

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_tuple(stringify!($name)).field(&self.0).finish()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
    // An identifier that is itself sensitive: `Debug` and `Display` print `[redacted]`.
    (secret $(#[$doc:meta])* $name:ident, $rule:expr) => {
        id_type!(@define $(#[$doc])* $name, $rule);

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("[redacted]")
            }
        }
    };
    (@define $(#[$doc:meta])* $name:ident, $rule:expr) => {
        $(#[$doc])*
        ///
        /// [`new`](Self::new) and `From<&str>` accept any string, so an ID read from anywhere
        /// can be carried around; every request checks it before anything is sent and answers an
        /// invalid one with [`Error::InvalidArgument`]. [`parse`](Self::parse) (and `FromStr`)
        /// check it at once.
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub(crate) const RULE: IdRule = $rule;

            /// Wraps an identifier, unchecked until a request uses it.
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// Wraps an identifier if it has the form the API issues.
            ///
            /// ```
            #[doc = concat!("use apps_api::", stringify!($name), ";")]
            #[doc = concat!("assert!(", stringify!($name), "::parse(r\"..\\..\\zones\").is_err());")]
            /// ```
            pub fn parse(id: impl Into<String>) -> Result<Self, Error> {
                let id = id.into();
                Self::RULE.check(&id)?;
                Ok(Self(id))
            }

            /// The identifier as a string.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The identifier as one URL path segment, or why it cannot be one.
            pub(crate) fn segment(&self) -> Result<&str, Error> {
                Self::RULE.check(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
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

/// A Cloudflare identifier of at most 32 characters (`calls_account_identifier`,
/// `magic_identifier`: maxLength 32).
const fn cloudflare(what: &'static str, min_len: usize) -> IdRule {
    IdRule {
        what,
        min_len,
        max_len: 32,
        alphabet: Alphabet::Safe,
    }
}

id_type!(
    /// A Cloudflare account identifier: at most 32 characters (32 hex digits in practice).
    AccountId,
    cloudflare("account ID", 1)
);
id_type!(
    /// The `uid` of a Cloudflare Calls app: exactly 32 characters (`calls_identifier`).
    CallsAppId,
    cloudflare("Calls app ID", 32)
);
id_type!(
    /// The `account_app_id` of a Cloudflare Magic account app: at most 32 characters.
    MagicAppId,
    cloudflare("Magic app ID", 1)
);
id_type!(
    /// The identifier of a Magic site: at most 32 characters.
    SiteId,
    cloudflare("Magic site ID", 1)
);
id_type!(
    /// The identifier of a Magic site's app config: at most 32 characters.
    AppConfigId,
    cloudflare("app config ID", 1)
);
id_type!(
    /// The identifier of a Hover app (`data.id`): the app's integer ID as a string of at most
    /// 19 digits.
    HoverAppId,
    IdRule {
        what: "Hover app ID",
        min_len: 1,
        // i64::MAX has 19 digits.
        max_len: 19,
        alphabet: Alphabet::Digits,
    }
);

id_type!(
    /// The identifier of a Cloudflare Calls TURN key: its `uid`, exactly 32 characters
    /// (`calls_identifier`). Responses call it `uid`, paths `key_id`: they are the same value.
    TurnKeyId,
    cloudflare("TURN key ID", 32)
);
id_type!(
    secret
    /// The `username` of a TURN credential a key minted (96 hex characters in Cloudflare's
    /// examples; 1 to 256 ASCII letters, digits, `-` and `_` accepted, as no format is
    /// documented), which names it for revocation. It identifies the allocation, so `Debug`
    /// and `Display` print `[redacted]`; [`as_str`](Self::as_str) reads it.
    TurnUsername,
    IdRule {
        what: "TURN username",
        min_len: 1,
        max_len: 256,
        alphabet: Alphabet::Safe,
    }
);

id_type!(
    /// The identifier of a Realtime SFU session (32 hex characters in Cloudflare's examples; 1 to
    /// 128 ASCII letters, digits, `-` and `_` accepted, as no format is documented).
    SessionId,
    IdRule {
        what: "SFU session ID",
        min_len: 1,
        max_len: 128,
        alphabet: Alphabet::Safe,
    }
);

impl From<i64> for HoverAppId {
    fn from(id: i64) -> Self {
        Self::new(id.to_string())
    }
}

/// (The fake's router checks path parameters by it; the facade by each ID's type.)
#[cfg(any(test, feature = "fake"))]
impl crate::operations::IdKind {
    /// What an ID of this kind must look like: its type's rule.
    pub(crate) fn rule(self) -> IdRule {
        use crate::operations::IdKind as Kind;
        match self {
            Kind::Account => AccountId::RULE,
            Kind::CallsApp => CallsAppId::RULE,
            Kind::TurnKey => TurnKeyId::RULE,
            Kind::TurnUsername => TurnUsername::RULE,
            Kind::Session => SessionId::RULE,
            Kind::MagicApp => MagicAppId::RULE,
            Kind::Site => SiteId::RULE,
            Kind::AppConfig => AppConfigId::RULE,
            Kind::HoverApp => HoverAppId::RULE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(result: Result<&str, Error>) -> String {
        match result {
            Err(Error::InvalidArgument(m)) => m,
            other => panic!("expected InvalidArgument, got {other:?}"),
        }
    }

    #[test]
    fn named_hostile_ids_are_rejected_with_a_short_quote() {
        let hostile = [
            r"..\..",
            r"a\..\b",
            r"\..\x",
            "%2e%2e%5c",
            "..%2F..",
            "a\tb",
            "a\nb",
            "a\0b",
            "ü",
            ".",
            "..",
            "",
            "a/b",
            "a?b",
            "a#b",
            " a",
        ];
        for rule in [AccountId::RULE, MagicAppId::RULE, CallsAppId::RULE] {
            for id in hostile {
                let m = message(rule.check(id));
                assert!(m.starts_with(rule.what), "{m}");
                assert!(
                    !m.contains('\n') && !m.contains('\t') && !m.contains('\0'),
                    "{m}"
                );
            }
            let long = "a".repeat(33);
            let m = message(rule.check(&long));
            assert!(
                m.contains("33 characters") && !m.contains(&long[..9]),
                "{m}"
            );
        }
        assert!(message(HoverAppId::RULE.check("12a")).contains("ASCII digits"));
        assert!(message(CallsAppId::RULE.check("abc")).contains("exactly 32"));
        let quoted = message(AccountId::RULE.check("0123456789-secret-looking-tail/"));
        assert!(
            quoted.contains("\"01234567…\"") && !quoted.contains("secret"),
            "{quoted}"
        );
    }

    #[test]
    fn what_the_apis_issue_is_accepted() {
        assert!(AccountId::RULE
            .check("023e105f4ecef8ad9ca31a8372d0c353")
            .is_ok());
        assert!(CallsAppId::RULE
            .check("2a95132c15732412d22c1476fa83f27a")
            .is_ok());
        assert!(MagicAppId::RULE
            .check("ac60d3d0435248289d446cedd870bcf4")
            .is_ok());
        assert!(MagicAppId::RULE.check("a1").is_ok());
        assert!(HoverAppId::RULE.check("43120").is_ok());
        assert!(HoverAppId::RULE.check(&i64::MAX.to_string()).is_ok());
        assert!("43120".parse::<HoverAppId>().is_ok());
        assert!("4312/0".parse::<HoverAppId>().is_err());
    }

    /// Every character an alphabet names, for drawing well-formed IDs.
    fn characters(alphabet: Alphabet) -> Vec<char> {
        match alphabet {
            Alphabet::Safe => ('a'..='z')
                .chain('A'..='Z')
                .chain('0'..='9')
                .chain(['-', '_'])
                .collect(),
            Alphabet::Digits => ('0'..='9').collect(),
        }
    }

    proptest::proptest! {
        #![proptest_config(crate::core::proptest_config())]

        /// Any ID of any kind drawn from its whole alphabet (`-` and `_` included) at any length
        /// the rule allows is accepted as it is.
        #[test]
        fn every_well_formed_id_of_every_kind_is_accepted(
            kind in proptest::sample::select(kinds()),
            picks in proptest::collection::vec(proptest::prelude::any::<proptest::sample::Index>(), 256),
            length in proptest::prelude::any::<proptest::sample::Index>(),
        ) {
            let rule = kind.rule();
            let alphabet = characters(rule.alphabet);
            let length = rule.min_len + length.index(rule.max_len - rule.min_len + 1);
            let id: String = picks[..length].iter().map(|pick| *pick.get(&alphabet)).collect();
            proptest::prop_assert_eq!(rule.check(&id).ok(), Some(id.as_str()));
        }
    }

    /// The characters past letters and digits are allowed anywhere, together or alone.
    #[test]
    fn dashes_and_underscores_are_part_of_the_safe_alphabet() {
        for id in ["-", "_", "a-b_c", "--__", "session_-ID-1"] {
            assert_eq!(SessionId::RULE.check(id).ok(), Some(id), "{id}");
            assert_eq!(MagicAppId::RULE.check(id).ok(), Some(id), "{id}");
        }
    }

    /// The kind of ID of every path parameter of every operation this build has.
    fn kinds() -> Vec<crate::operations::IdKind> {
        let mut kinds: Vec<_> = crate::operations::ALL
            .iter()
            .flat_map(|op| op.ids.iter().map(|(_, kind)| *kind))
            .collect();
        kinds.dedup();
        kinds
    }

    /// The specs carry the same length limits and alphabet on every path parameter as the type
    /// of the kind of ID it carries.
    #[test]
    fn the_specs_carry_the_same_rules() {
        let ids = crate::operations::ALL.iter().flat_map(|op| {
            op.ids
                .iter()
                .map(|(name, kind)| (op.spec, *name, kind.rule()))
        });
        for (spec, parameter, rule) in ids {
            let path = format!("{}/{spec}", env!("CARGO_MANIFEST_DIR"));
            let text = std::fs::read_to_string(&path).unwrap();
            let value: serde_json::Value = yaml_serde::from_str(&text).unwrap();
            let schema = &value["components"]["parameters"][parameter]["schema"];
            assert_eq!(
                schema["maxLength"].as_u64(),
                Some(rule.max_len as u64),
                "{spec} {parameter}"
            );
            assert_eq!(
                schema["minLength"].as_u64(),
                Some(rule.min_len as u64),
                "{spec} {parameter}"
            );
            assert_eq!(
                schema["pattern"].as_str(),
                Some(rule.alphabet.pattern()),
                "{spec} {parameter}"
            );
        }
    }

    /// A refused value is quoted up to 8 characters, with `…` only when some were left out.
    #[test]
    fn a_quote_is_cut_only_past_eight_characters() {
        assert_eq!(quote("abcdefg/"), r#""abcdefg/""#);
        assert_eq!(quote("abcdefgh/"), r#""abcdefgh…""#);
        assert_eq!(quote("a\tb"), r#""a\tb""#);
    }

    /// The position named is the 1-based character where the first refused byte is, counted in
    /// characters (a multi-byte character is one), so a caller can find it.
    #[test]
    fn the_first_refused_character_is_named_by_its_position() {
        let rule = MagicAppId::RULE;
        for (id, at) in [("/", 1), ("ab/c", 3), ("é", 1), ("aé/", 2), ("abc\\", 4)] {
            let m = message(rule.check(id));
            assert!(m.contains(&format!("at position {at};")), "{id:?}: {m}");
        }
    }
}
