//! The state of one request: what it is (for dry runs and errors) and what its answer said,
//! shared between [`Transport::run`](crate::core::transport::Transport) and progenitor's hooks.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;

use crate::core::budget::Reported;
use crate::core::error::{Endpoint, Provider};
use crate::core::operation::Op;

/// What one request saw, shared between [`Transport::run`] and the hooks through a task-local,
/// since progenitor's hooks have no per-request parameter. (Shared through an `Arc`: a
/// task-local value is swapped in and out on every poll, so it should be pointer-sized.)
#[derive(Default)]
pub(crate) struct RequestState {
    inner: Mutex<Seen>,
}

#[derive(Default)]
pub(crate) struct Seen {
    /// The operation (for a dry run's record).
    pub(crate) operation: Option<&'static str>,
    /// Its path template, when the path sent must not be shown.
    pub(crate) secret_path: Option<&'static str>,
    /// Sent without the client's credentials.
    pub(crate) anonymous: bool,
    pub(crate) status: Option<StatusCode>,
    pub(crate) request_id: Option<String>,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) path: Option<String>,
    /// The host a redirect pointed to (bounded, escaped).
    pub(crate) redirect_host: Option<String>,
    /// The body passed the size cap; `exec` cannot say so as a `reqwest::Error`.
    pub(crate) body_too_large: bool,
    /// What the answer's headers said of the rate budget (read only when there is one).
    pub(crate) rate_report: Option<Reported>,
    /// A dry run took the request: nothing was sent.
    pub(crate) prepared: bool,
}

impl RequestState {
    /// The state of a request about to run.
    pub(crate) fn new(seen: Seen) -> Self {
        Self {
            inner: Mutex::new(seen),
        }
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Seen {
    /// The request as errors name it: operation, method and the path actually sent.
    pub(crate) fn endpoint(&self, provider: Provider, op: Op) -> Endpoint {
        Endpoint {
            provider,
            operation: op.id(),
            method: op.method(),
            path: self.path.clone().unwrap_or_else(|| op.path().to_string()),
        }
    }
}

tokio::task_local! {
    pub(crate) static REQUEST: Arc<RequestState>;
}
