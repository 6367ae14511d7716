//! Written once, used by every provider: operations, credentials, the transport and its hooks,
//! dry runs, envelopes, errors, retries, rate budgets, secrets, IDs and shared configuration. No provider
//! logic lives here: providers hand it their credentials, their error shapes and the judgements
//! on their operations.

pub(crate) mod auth;
pub(crate) mod budget;
pub(crate) mod config;
pub(crate) mod dry_run;
#[cfg(any(feature = "cloudflare-calls", feature = "cloudflare-magic"))]
pub(crate) mod envelope;
pub(crate) mod error;
pub(crate) mod hooks;
pub(crate) mod ids;
pub(crate) mod map_error;
pub(crate) mod plan;
pub(crate) mod request;
pub(crate) mod retry;
pub(crate) mod run;
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

/// Every property test's settings: [`proptest_cases`] cases, no failure files written.
#[cfg(test)]
pub(crate) fn proptest_config() -> proptest::test_runner::Config {
    proptest::test_runner::Config {
        cases: proptest_cases(),
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    }
}
