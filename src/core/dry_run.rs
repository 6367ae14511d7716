//! Dry runs: the request an operation would send, prepared and shown, never sent.

use std::future::Future;
use std::sync::{Arc, Mutex};

use reqwest::Request;

use crate::core::request::Call;
use crate::core::scrub;
use crate::core::scrub::Known;
use crate::Error;

/// A request as a client would have sent it ([`dry_run`]): credentials in headers and known
/// secrets in the body are `[redacted]`.
///
/// Serialises as `{"operation", "method", "url", "headers": {name: value}, "body"}`, the body
/// as JSON when it is JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PreparedRequest {
    /// The spec's operationId.
    pub operation: &'static str,
    /// HTTP method.
    pub method: String,
    /// The full URL (a path that holds a secret shows its template).
    pub url: String,
    /// The headers, in order, sensitive ones (`Authorization`, `X-Auth-Key`) redacted.
    pub headers: Vec<(String, String)>,
    /// The body, if the request has one (UTF-8; known secrets redacted).
    pub body: Option<String>,
}

impl serde::Serialize for PreparedRequest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let headers: serde_json::Map<String, serde_json::Value> = self
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), value.clone().into()))
            .collect();
        let body = self.body.as_deref().map(|body| {
            serde_json::from_str::<serde_json::Value>(body).unwrap_or_else(|_| body.into())
        });
        let mut map = serializer.serialize_map(Some(5))?;
        map.serialize_entry("operation", self.operation)?;
        map.serialize_entry("method", &self.method)?;
        map.serialize_entry("url", &self.url)?;
        map.serialize_entry("headers", &headers)?;
        map.serialize_entry("body", &body)?;
        map.end()
    }
}

tokio::task_local! {
    /// Set while a dry run runs: the first request prepared goes here instead of the network.
    static DRY_RUN: Arc<Mutex<Option<PreparedRequest>>>;
}

/// Runs `call` without sending anything: `Ok` with the first request it would have sent
/// (credentials and known secrets redacted), or, if it ended before sending one (an argument
/// refused, say), `Err` with what it ended with. A Hover client built from a password does not
/// log in first.
///
/// ```no_run
/// # #[cfg(feature = "cloudflare-calls")]
/// # async fn run(cf: apps_api::cloudflare::CloudflareClient) {
/// let calls = cf.calls("023e105f4ecef8ad9ca31a8372d0c353");
/// match apps_api::dry_run(calls.create(Some("prod"))).await {
///     Ok(request) => println!("would send {} {}", request.method, request.url),
///     Err(refused) => println!("nothing to send: {refused:?}"),
/// }
/// # }
/// ```
pub async fn dry_run<F: Future>(call: F) -> Result<PreparedRequest, F::Output> {
    let prepared = Arc::new(Mutex::new(None));
    let output = DRY_RUN.scope(prepared.clone(), call).await;
    let taken = prepared.lock().unwrap_or_else(|p| p.into_inner()).take();
    taken.ok_or(output)
}

/// Whether a dry run is under way (nothing may be sent, not even a login).
pub(crate) fn active() -> bool {
    DRY_RUN.try_with(|_| ()).is_ok()
}

/// What a request inside a dry run ends with once it was prepared ([`dry_run`] returns
/// the request instead).
pub(crate) fn not_sent() -> Error {
    Error::Config("a dry run: the request was prepared, and not sent".into())
}

/// In a dry run, keeps `request` (the first one) as [`dry_run`] will return it, and says so;
/// outside one, does nothing.
pub(crate) fn take(known: &Known, call: &Call, request: &Request) -> bool {
    DRY_RUN
        .try_with(|cell| {
            let mut cell = cell.lock().unwrap_or_else(|p| p.into_inner());
            if cell.is_none() {
                *cell = Some(prepared(known, call, request));
            }
        })
        .is_ok()
}

/// What `request` would send, credentials redacted.
fn prepared(known: &Known, call: &Call, request: &Request) -> PreparedRequest {
    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| {
            let shown = if value.is_sensitive() {
                "[redacted]".to_string()
            } else {
                scrub::message(
                    &String::from_utf8_lossy(value.as_bytes()),
                    known,
                    scrub::MESSAGE_BYTES,
                )
            };
            (name.as_str().to_string(), shown)
        })
        .collect();
    let body = request
        .body()
        .and_then(reqwest::Body::as_bytes)
        .map(|bytes| scrub::redacted_body(bytes, known));
    let secret_path = call.secret_path();
    let url = request.url();
    let shown_url = match secret_path {
        // The base URL's own path, then the template in place of what was filled in.
        Some(template) => {
            let parts: Vec<&str> = url.path().split('/').collect();
            let keep = parts.len().saturating_sub(template.matches('/').count());
            format!(
                "{}{}{template}",
                url.origin().ascii_serialization(),
                parts[..keep].join("/")
            )
        }
        None => url.to_string(),
    };
    PreparedRequest {
        operation: call.op.id(),
        method: request.method().to_string(),
        url: shown_url,
        headers,
        body,
    }
}
