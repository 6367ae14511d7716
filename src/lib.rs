#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// With only some providers enabled, shared helpers for the others are unused.
#![cfg_attr(
    not(all(
        feature = "cloudflare-calls",
        feature = "cloudflare-magic",
        feature = "hover"
    )),
    allow(dead_code, unused_imports, unused_macros)
)]

mod core;
mod generated;

#[cfg(any(feature = "cloudflare-calls", feature = "cloudflare-magic"))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "cloudflare-calls", feature = "cloudflare-magic")))
)]
pub mod cloudflare;
#[cfg(feature = "fake")]
#[cfg_attr(docsrs, doc(cfg(feature = "fake")))]
pub mod fake;

#[cfg(feature = "hover")]
#[cfg_attr(docsrs, doc(cfg(feature = "hover")))]
pub mod hover;
pub mod operations;
#[cfg(any(test, feature = "test-util"))]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod test_util;

/// Server text made safe to show, as this crate's errors show it: for printing model fields
/// (names anyone on an account can set) on a terminal or in a log.
pub mod text {
    /// `text` with control characters (C0, DEL, C1) and the invisible ones that reorder or hide
    /// text (bidi controls, zero-width and tag characters, …) written as escapes (`\u{1b}`), so
    /// that it cannot start a line, move a terminal's cursor or disguise itself.
    ///
    /// ```
    /// assert_eq!(apps_api::text::escape_controls("ok\u{1b}[2J\u{202e}"), "ok\\u{1b}[2J\\u{202e}");
    /// ```
    pub fn escape_controls(text: &str) -> String {
        crate::core::scrub::escape_controls(text)
    }

    /// Whether a terminal would act on `c` or not show it: what [`escape_controls`] escapes.
    pub fn is_hidden(c: char) -> bool {
        crate::core::scrub::is_hidden(c)
    }
}

pub use crate::core::budget::{BudgetSnapshot, Quota};
pub use crate::core::config::ResponseInfo;
pub use crate::core::config::DEFAULT_MAX_BODY_BYTES;
pub use crate::core::dry_run::{dry_run, PreparedRequest};
#[cfg(any(feature = "cloudflare-calls", feature = "cloudflare-magic"))]
pub use crate::core::envelope::MessageHandler;
pub use crate::core::error::{ApiError, Endpoint, Error, Failure, Provider};
pub use crate::core::ids::{
    AccountId, AppConfigId, CallsAppId, HoverAppId, MagicAppId, SessionId, SiteId, TurnKeyId,
    TurnUsername,
};
pub use crate::core::retry::{RetryConfig, Sleeper, TokioSleeper};
pub use crate::core::secret::Secret;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
