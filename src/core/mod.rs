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

/// Cases per property test: `PROPTEST_CASES`, or 10,000.
#[cfg(test)]
pub(crate) fn proptest_cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}
