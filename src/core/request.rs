//! One request's context, carried by the generated client that sends it.
//!
//! progenitor hands its hooks the client they run on (`&self`) and the operation's name, and
//! nothing else. So each request gets its own generated client ([`Base::client`]), whose
//! `inner` value is that request's [`Call`]: the hooks read what the request is from it and
//! write what its answer said into it, and [`run`](crate::core::run::run) reads that back
//! after each try. Nothing is shared between requests but the transport.

use std::marker::PhantomData;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use reqwest::StatusCode;

use crate::core::budget::Reported;
use crate::core::error::{Endpoint, Provider};
use crate::core::plan::Planned;
use crate::core::transport::Transport;
use crate::operations::Operation;

/// One request: the transport it goes through, its operation, and what its current try saw.
pub(crate) struct Call {
    pub(crate) transport: Arc<Transport>,
    pub(crate) op: Planned,
    seen: Mutex<Seen>,
}

/// What one try of a request saw (reset by each try), and the path it was sent to.
#[derive(Default)]
pub(crate) struct Seen {
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

/// A copy is the same request started afresh (progenitor's clients derive `Clone`; none is
/// cloned here).
impl Clone for Call {
    fn clone(&self) -> Self {
        Self::new(self.transport.clone(), self.op)
    }
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("operation", &self.op.id())
            .finish_non_exhaustive()
    }
}

impl Call {
    pub(crate) fn new(transport: Arc<Transport>, op: Planned) -> Self {
        Self {
            transport,
            op,
            seen: Mutex::new(Seen::default()),
        }
    }

    /// The spec's facts about the operation.
    pub(crate) fn operation(&self) -> &'static Operation {
        self.op.operation
    }

    /// What the current try saw. (Locked only by the request's own steps, one at a time: the
    /// lock is there because the generated client is shared by reference across awaits.)
    pub(crate) fn seen(&self) -> MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What the last try saw, taken once the request is over.
    pub(crate) fn take_seen(&self) -> Seen {
        std::mem::take(&mut *self.seen())
    }

    /// The path template when the path sent must not be shown (it holds a secret).
    pub(crate) fn secret_path(&self) -> Option<&'static str> {
        let operation = self.operation();
        operation.sensitive_path.then_some(operation.path)
    }
}

impl Seen {
    /// The request as errors name it: operation, method and the path actually sent.
    pub(crate) fn endpoint(&self, provider: Provider, op: Planned) -> Endpoint {
        Endpoint {
            provider,
            operation: op.id(),
            method: op.method(),
            path: self.path.clone().unwrap_or_else(|| op.path().to_string()),
        }
    }
}

/// A generated client, built for one request around its [`Call`] (`build.rs` implements it for
/// every generated client, with progenitor's hooks).
pub(crate) trait Generated {
    /// The client for one request to `base`.
    fn build(base: &str, http: reqwest::Client, call: Call) -> Self;
    /// The request it sends.
    fn call(&self) -> &Call;
}

/// Where a generated client `C` sends its requests: its API's base URL on one client.
pub(crate) struct Base<C> {
    url: Box<str>,
    client: PhantomData<fn() -> C>,
}

impl<C: Generated> Base<C> {
    /// An API at `url` (no trailing slash).
    pub(crate) fn new(url: &str) -> Self {
        Self {
            url: url.into(),
            client: PhantomData,
        }
    }

    /// The generated client for one request of `op` through `transport`: the closure that
    /// sends the request borrows it, and [`run`](crate::core::run::run) reads what the
    /// request saw from it.
    pub(crate) fn client(&self, transport: &Arc<Transport>, op: Planned) -> C {
        C::build(
            &self.url,
            transport.http.clone(),
            Call::new(transport.clone(), op),
        )
    }
}
