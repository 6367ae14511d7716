//! Session tokens: what a browser (in a cookie) or another client (as a bearer) shows to act
//! on the session it created.
//!
//! A token is `v1.{session}.{expires}.{mac}`: the session ID, when it expires (Unix seconds)
//! and an HMAC-SHA256 over both, the proxy's prefix and the app, with the proxy's own key
//! (never the app secret). It is checked in constant time, and carries no state: proxies of
//! one app that share the key and the prefix accept each other's tokens.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::hmac;

use crate::{Secret, SessionId};

/// The shortest signing key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 32;

/// The longest token read: a session ID of 128 characters and the rest.
const MAX_TOKEN_BYTES: usize = 256;

/// What a token is worth.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// A valid token for this session.
    Owner,
    /// A valid token, for another session.
    Other,
    /// Not a token of this proxy, tampered with, or expired.
    Invalid,
}

/// Signs and checks the tokens of one proxy.
pub(super) struct Signer {
    key: hmac::Key,
    /// What a token is signed over besides its session and expiry: the prefix and the app.
    scope: String,
    lifetime: Duration,
}

impl Signer {
    pub(super) fn new(key: &Secret, prefix: &str, app: &str, lifetime: Duration) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, key.expose().as_bytes()),
            scope: format!("{prefix}\n{app}"),
            lifetime,
        }
    }

    pub(super) fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// The signed part.
    fn message(&self, session: &str, expires: u64) -> String {
        format!(
            "apps-api sfu proxy v1\n{}\n{session}\n{expires}",
            self.scope
        )
    }

    /// A token for `session`, valid for the lifetime from now.
    pub(super) fn issue(&self, session: &SessionId) -> String {
        let expires = now().saturating_add(self.lifetime.as_secs());
        let mac = hmac::sign(
            &self.key,
            self.message(session.as_str(), expires).as_bytes(),
        );
        format!(
            "v1.{}.{expires}.{}",
            session.as_str(),
            URL_SAFE_NO_PAD.encode(mac.as_ref())
        )
    }

    /// What `token` is worth for `session`.
    pub(super) fn check(&self, token: &str, session: &str) -> Verdict {
        if token.len() > MAX_TOKEN_BYTES {
            return Verdict::Invalid;
        }
        let mut parts = token.split('.');
        let (Some("v1"), Some(named), Some(expires), Some(mac), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Verdict::Invalid;
        };
        let (Ok(expires), Ok(mac)) = (expires.parse::<u64>(), URL_SAFE_NO_PAD.decode(mac)) else {
            return Verdict::Invalid;
        };
        let message = self.message(named, expires);
        if hmac::verify(&self.key, message.as_bytes(), &mac).is_err() || expires <= now() {
            return Verdict::Invalid;
        }
        if named == session {
            Verdict::Owner
        } else {
            Verdict::Other
        }
    }
}

/// When a token says it expires (unchecked: for choosing which cookies to let go).
pub(super) fn expiry_of(token: &str) -> Option<u64> {
    token.split('.').nth(2)?.parse().ok()
}

/// Seconds since the Unix epoch (a clock before it reads as the epoch).
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// The cookie that carries a session's token.
pub(super) fn cookie_name(session: &str) -> String {
    format!("sfu-session-{session}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn signer(key: &str, prefix: &str) -> Signer {
        Signer::new(
            &Secret::new(key),
            prefix,
            "app",
            Duration::from_secs(86_400),
        )
    }

    const KEY: &str = "a signing key of thirty-two bytes or more";

    #[test]
    fn a_token_names_its_session_and_nothing_else_passes() {
        let proxy = signer(KEY, "/sfu");
        let token = proxy.issue(&SessionId::new("s1"));
        assert_eq!(proxy.check(&token, "s1"), Verdict::Owner);
        assert_eq!(proxy.check(&token, "s2"), Verdict::Other);
        // Another key, another prefix: not this proxy's.
        assert_eq!(
            signer("another key of thirty-two bytes or more", "/sfu").check(&token, "s1"),
            Verdict::Invalid
        );
        assert_eq!(signer(KEY, "/other").check(&token, "s1"), Verdict::Invalid);
        let other_app = Signer::new(
            &Secret::new(KEY),
            "/sfu",
            "another app",
            Duration::from_secs(60),
        );
        assert_eq!(other_app.check(&token, "s1"), Verdict::Invalid);
        // Tampered: another session named, a later expiry, the MAC cut or changed.
        let parts: Vec<&str> = token.split('.').collect();
        for forged in [
            format!("v1.s2.{}.{}", parts[2], parts[3]),
            format!("v1.s1.{}.{}", u64::MAX, parts[3]),
            format!("v1.s1.{}.{}", parts[2], &parts[3][1..]),
            format!("v1.s1.{}.{}A", parts[2], parts[3]),
            format!("v2.s1.{}.{}", parts[2], parts[3]),
            format!("{token}.extra"),
            String::new(),
            "x".repeat(10_000),
        ] {
            assert_eq!(proxy.check(&forged, "s1"), Verdict::Invalid, "{forged}");
        }
    }

    #[test]
    fn an_expired_token_is_invalid() {
        let proxy = Signer::new(&Secret::new(KEY), "/sfu", "app", Duration::ZERO);
        let token = proxy.issue(&SessionId::new("s1"));
        assert_eq!(proxy.check(&token, "s1"), Verdict::Invalid);
    }

    proptest! {
        #![proptest_config(crate::core::proptest_config())]

        /// Any text at all is no token of this proxy, unless it is one it issued.
        #[test]
        fn arbitrary_text_is_never_a_valid_token(text in ".{0,300}", session in "[a-z0-9]{1,8}") {
            prop_assert_eq!(signer(KEY, "/sfu").check(&text, &session), Verdict::Invalid);
        }
    }
}
