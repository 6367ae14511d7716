//! The plan of a call: each operation as the facade will run it ([`Planned`]: the spec's facts
//! from the operation table, the replay rule this request's body may make stricter, and the
//! time limits of the handle it runs through), and a call of several requests under one
//! deadline ([`OneCall`]).

use std::time::Duration;

use crate::operations::{Operation, Replay};

/// An operation about to run, as this call plans it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Planned {
    /// The spec's facts: operationId, method, path template, credential, replay rule.
    pub(crate) operation: &'static Operation,
    /// This request's time limit per try, instead of the client's.
    pub(crate) timeout: Option<Duration>,
    /// This request's overall time limit (tries and waits), instead of the client's.
    pub(crate) total: Option<Duration>,
    /// When the request must be over, if a caller running several steps (a Hover login, then
    /// the request) fixed it already.
    pub(crate) deadline: Option<tokio::time::Instant>,
    /// When it may be sent again: the operation's rule, unless this request's body makes it
    /// stricter (an SFU close carrying an offer).
    pub(crate) replay: Replay,
}

impl Planned {
    /// An operation of the table, with the client's time limits.
    pub(crate) const fn new(operation: &'static Operation) -> Self {
        Self {
            operation,
            timeout: None,
            total: None,
            deadline: None,
            replay: operation.replay,
        }
    }

    /// The spec's operationId.
    pub(crate) fn id(&self) -> &'static str {
        self.operation.id
    }

    /// The HTTP method.
    pub(crate) fn method(&self) -> &'static str {
        self.operation.method
    }

    /// The path template.
    pub(crate) fn path(&self) -> &'static str {
        self.operation.path
    }

    /// The same operation, never sent again once it may have reached the server.
    pub(crate) const fn not_after_sent(mut self) -> Self {
        self.replay = Replay::NotAfterSent;
        self
    }

    /// The same operation with a handle's own time limits, where it has them.
    pub(crate) fn with_limits(mut self, limits: Limits) -> Self {
        self.timeout = limits.per_try.or(self.timeout);
        self.total = limits.total.or(self.total);
        self.deadline = limits.deadline.or(self.deadline);
        self
    }

    /// The same operation, to be over by `deadline`.
    pub(crate) fn until(mut self, deadline: tokio::time::Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }
}

/// A handle's own time limits (`.timeout(..)`, `.total_timeout(..)`), or none; and, for the
/// requests of one call made of several, the deadline they share.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Limits {
    pub(crate) per_try: Option<Duration>,
    pub(crate) total: Option<Duration>,
    pub(crate) deadline: Option<tokio::time::Instant>,
}

/// A call made of several requests (a list, then a request per item it lists): every request
/// ends by one deadline, fixed when the call starts (the handle's `total_timeout`, else the
/// client's), and the requests per item are bounded, whatever the server lists. Every such
/// call is built on this.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OneCall {
    /// The facade's name for the call, for errors.
    name: &'static str,
    /// The most requests sent for the items one answer lists.
    most: usize,
    /// The limits each request of the call runs with.
    pub(crate) limits: Limits,
}

impl OneCall {
    /// Starts call `name` now, through a handle with `limits` on a client whose overall limit
    /// is `client_total`: at most `most` requests for listed items.
    pub(crate) fn start(
        name: &'static str,
        most: usize,
        limits: Limits,
        client_total: Duration,
    ) -> Self {
        let deadline = limits
            .deadline
            .unwrap_or_else(|| deadline_after(limits.total.unwrap_or(client_total)));
        Self {
            name,
            most,
            limits: Limits {
                deadline: Some(deadline),
                ..limits
            },
        }
    }

    /// Whether a request for each of `listed` items (what a server listed) fits the call's
    /// bound; if not, [`Error::FanOut`](crate::Error::FanOut), and nothing is to be sent.
    pub(crate) fn fan_out(&self, listed: usize, items: &'static str) -> Result<(), crate::Error> {
        if listed > self.most {
            return Err(crate::Error::FanOut {
                call: self.name,
                items,
                listed,
                limit: self.most,
            });
        }
        Ok(())
    }
}

/// Adds the time-limit methods every resource handle shares (it has a `limits` field).
macro_rules! handle_limits {
    () => {
        /// Gives the requests made through this handle their own time limit per try, instead
        /// of the client's `request_timeout`.
        pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
            self.limits.per_try = Some(timeout);
            self
        }

        /// Gives the requests made through this handle their own overall time limit (every try
        /// and every wait between tries), instead of the client's `total_timeout`.
        pub fn total_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.limits.total = Some(timeout);
            self
        }
    };
}
pub(crate) use handle_limits;

/// `total` from now, or as far as the clock goes (`Instant + Duration` panics on overflow).
pub(crate) fn deadline_after(total: Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    now.checked_add(total)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 60 * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A limit past what the clock can hold is a century away, not a panic and not soon.
    #[test]
    fn a_deadline_past_the_clock_is_a_century_away() {
        let now = tokio::time::Instant::now();
        let century = Duration::from_secs(100 * 365 * 24 * 60 * 60);
        let far = deadline_after(Duration::MAX);
        assert!(far >= now + century && far < now + century + Duration::from_secs(60));
        let soon = deadline_after(Duration::from_secs(5));
        assert!(soon >= now + Duration::from_secs(5) && soon < now + Duration::from_secs(65));
    }
}
