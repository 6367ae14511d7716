//! In-process answers, for your unit tests (feature `test-util`): a client built with
//! [`responder`](crate::cloudflare::CloudflareClientBuilder::responder) sends nothing over a
//! socket; each request goes to a closure, and what it returns is the answer, read by the whole
//! facade as a real one would be (envelopes, errors, retries, limits, redaction).
//!
//! Time stays virtual: under `#[tokio::test(start_paused = true)]` an async responder that
//! sleeps, a `Retry-After` and the deadlines all run on tokio's paused clock.
//!
//! ```
//! # #[cfg(feature = "cloudflare-calls")]
//! # async fn demo() -> Result<(), apps_api::Error> {
//! use apps_api::cloudflare::{CloudflareClient, Credentials};
//! use apps_api::test_util::{json_response, Responder};
//!
//! let cf = CloudflareClient::builder()
//!     .credentials(Credentials::api_token("test-token"))
//!     .responder(Responder::new(|request| {
//!         assert_eq!(request.uri().path(), "/client/v4/accounts/acc/calls/apps");
//!         json_response(200, r#"{"success": true, "errors": [], "messages": [], "result": []}"#)
//!     }))
//!     .build()?;
//! assert!(cf.calls("acc").list().await?.is_empty());
//! # Ok(()) }
//! ```
//!
//! Failures other than answers (a refused connection, a reset) need a real socket: use the fake
//! server (feature `fake`) or your own.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;

/// A request as the responder sees it: method, URL, headers (credentials included, as sent)
/// and body.
pub type Request = http::Request<Bytes>;

/// An answer the responder gives.
pub type Response = http::Response<Bytes>;

type Respond = dyn Fn(Request) -> Pin<Box<dyn Future<Output = Response> + Send>> + Send + Sync;

/// Answers every request of a client in process (see the [module docs](self)).
///
/// A responder is the server its clients talk to: clients built with one (or its clones) share
/// rate budgets, as clients of one host do; clients of another responder, in another test,
/// share nothing with them.
#[derive(Clone)]
pub struct Responder {
    respond: Arc<Respond>,
    /// Which responder this is, for the rate budgets' registry.
    id: u64,
}

impl Responder {
    /// Answers each request with what `respond` returns, at once.
    pub fn new(respond: impl Fn(Request) -> Response + Send + Sync + 'static) -> Self {
        Self::with(Arc::new(move |request| {
            let response = respond(request);
            Box::pin(async move { response })
        }))
    }

    fn with(respond: Arc<Respond>) -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        Self {
            respond,
            id: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// Which responder this is (clones are the same one).
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Answers each request with what the future `respond` returns completes with (it may
    /// sleep, on tokio's clock, to stall an answer).
    pub fn from_async<F, Fut>(respond: F) -> Self
    where
        F: Fn(Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response> + Send + 'static,
    {
        Self::with(Arc::new(move |request| Box::pin(respond(request))))
    }

    pub(crate) fn respond(
        &self,
        request: Request,
    ) -> Pin<Box<dyn Future<Output = Response> + Send>> {
        (self.respond)(request)
    }
}

impl std::fmt::Debug for Responder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Responder")
    }
}

/// An answer with this status and JSON body (`Content-Type: application/json`).
///
/// # Panics
///
/// If `status` is not a valid HTTP status (100 to 999).
pub fn json_response(status: u16, body: impl Into<Bytes>) -> Response {
    http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(body.into())
        .expect("a valid status")
}
