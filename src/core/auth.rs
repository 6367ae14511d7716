//! The credentials every request carries (fixed headers, or one header a login renews), and
//! every secret the client holds, spelled every way a server can echo it, to scrub from server
//! text.

use std::collections::VecDeque;
use std::sync::{Arc, RwLock};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::core::scrub::Known;
use crate::Secret;

/// How many earlier values of a renewed credential are remembered, to scrub them from server
/// text after a renewal (a server may echo the one a request carried).
const REMEMBERED: usize = 4;

/// A client's credentials.
pub(crate) struct Credentials {
    /// Sent with every request (a bearer token, or email and key), marked sensitive.
    fixed: Vec<(HeaderName, HeaderValue)>,
    /// The header a login renews, if the client has one.
    renewable: Option<HeaderName>,
    /// Secrets the client was built with (tokens, keys, passwords).
    secrets: Vec<Secret>,
    state: RwLock<Renewed>,
}

/// The renewed credential: its header value now, its secret now and before, and every
/// spelling of every secret the client holds.
#[derive(Default)]
struct Renewed {
    header: Option<HeaderValue>,
    current: Option<Secret>,
    earlier: VecDeque<Secret>,
    known: Arc<Known>,
}

impl Credentials {
    /// Headers sent with every request; `secrets` are what they hold.
    pub(crate) fn fixed(headers: Vec<(HeaderName, HeaderValue)>, secrets: Vec<Secret>) -> Self {
        Self::new(headers, None, secrets)
    }

    /// A header set by [`Credentials::renew`] (none until then); `secrets` are the ones the
    /// client holds besides (a password).
    pub(crate) fn renewable(header: HeaderName, secrets: Vec<Secret>) -> Self {
        Self::new(Vec::new(), Some(header), secrets)
    }

    fn new(
        fixed: Vec<(HeaderName, HeaderValue)>,
        renewable: Option<HeaderName>,
        secrets: Vec<Secret>,
    ) -> Self {
        let known = Arc::new(Known::new(secrets.iter().map(Secret::expose)));
        Self {
            fixed,
            renewable,
            secrets,
            state: RwLock::new(Renewed {
                known,
                ..Renewed::default()
            }),
        }
    }

    fn state(&self) -> std::sync::RwLockReadGuard<'_, Renewed> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds the credentials to a request's headers.
    pub(crate) fn apply(&self, headers: &mut HeaderMap) {
        for (name, value) in &self.fixed {
            headers.insert(name.clone(), value.clone());
        }
        if let Some(name) = &self.renewable {
            if let Some(value) = &self.state().header {
                headers.insert(name.clone(), value.clone());
            }
        }
    }

    /// Whether there is a credential to send (a renewable one is missing before a login).
    pub(crate) fn present(&self) -> bool {
        self.renewable.is_none() || self.state().header.is_some()
    }

    /// Sends `value` (which holds `secret`) from now on; the secret before it is remembered for
    /// scrubbing.
    pub(crate) fn renew(&self, secret: &Secret, mut value: HeaderValue) {
        value.set_sensitive(true);
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        state.header = Some(value);
        if let Some(earlier) = state.current.replace(secret.clone()) {
            if state.earlier.len() == REMEMBERED {
                state.earlier.pop_front();
            }
            state.earlier.push_back(earlier);
        }
        let known = Known::new(
            self.secrets
                .iter()
                .chain(state.current.iter())
                .chain(state.earlier.iter())
                .map(Secret::expose),
        );
        state.known = Arc::new(known);
    }

    /// Every secret the client holds now: what it was built with, its renewed credential and
    /// the few before it.
    pub(crate) fn known(&self) -> Arc<Known> {
        self.state().known.clone()
    }
}
