//! Written once, used by every provider: transport and hooks, envelopes, errors, retries,
//! secrets, IDs and shared configuration. No provider logic lives here.

pub(crate) mod config;
#[cfg(any(feature = "cloudflare-calls", feature = "cloudflare-magic"))]
pub(crate) mod envelope;
pub(crate) mod error;
pub(crate) mod ids;
pub(crate) mod retry;
pub(crate) mod scrub;
pub(crate) mod secret;
pub(crate) mod transport;
