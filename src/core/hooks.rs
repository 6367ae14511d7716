//! progenitor's hooks, implemented once for every generated client: `pre` adds the credentials
//! and the user agent; `exec` sends one try (or hands it to a dry run, or to an in-process
//! responder), records what the answer's headers said, and keeps its body within the size
//! caps.

use bytes::{Bytes, BytesMut};
use reqwest::header::{HeaderName, USER_AGENT};
use reqwest::{Request, Response, ResponseBuilderExt};

use crate::core::request::{Call, Seen};
use crate::core::retry;
use crate::core::scrub::{self, Known};
use crate::operations::Credential;

// Header names built once: looking a name up by `&str` parses it on every request.
const CF_RAY: HeaderName = HeaderName::from_static("cf-ray");

impl Call {
    /// The `pre` hook: credentials (unless the operation goes without) and user agent.
    pub(crate) fn prepare(&self, request: &mut Request) {
        let headers = request.headers_mut();
        headers.insert(USER_AGENT, self.transport.user_agent.clone());
        if self.operation().credential != Credential::None {
            self.transport.credentials.apply(headers);
        }
    }

    /// The `exec` hook: one try. Sends, records what came back, and keeps a body of unknown
    /// length under the size cap. Retries and time limits are [`run`](crate::core::run::run)'s: it rebuilds
    /// the request only when a retry happens, instead of copying every request in case one
    /// does.
    pub(crate) async fn execute(&self, request: Request) -> reqwest::Result<Response> {
        let transport = &*self.transport;
        {
            let mut seen = self.seen();
            let path = seen.path.take();
            *seen = Seen {
                path: match path {
                    None if self.secret_path().is_none() => Some(request.url().path().to_string()),
                    path => path,
                },
                ..Seen::default()
            };
        }
        if crate::core::dry_run::take(&transport.known(), self, &request) {
            self.seen().prepared = true;
            // An answer nobody reads: `run` ends the request as not sent.
            return Ok(Response::from(http::Response::new(Bytes::new())));
        }
        #[cfg(any(test, feature = "test-util"))]
        let mut response = match &transport.responder {
            // Boxed: only tests take this path, and its future would enlarge every request's.
            Some(responder) => Box::pin(responder.respond(in_process(request)))
                .await
                .into(),
            None => transport.http.execute(request).await?,
        };
        #[cfg(not(any(test, feature = "test-util")))]
        let mut response = transport.http.execute(request).await?;
        let status = response.status();
        // Header values are server text: a server can echo the credentials it received.
        let request_id = response
            .headers()
            .get(CF_RAY)
            .and_then(|v| v.to_str().ok())
            .map(|v| scrub::header_value(v, &transport.known()));
        // Only error answers carry a wait worth reading.
        let retry_after = if status.as_u16() >= 400 {
            retry::retry_after(response.headers())
        } else {
            None
        };
        let redirect_host = status
            .is_redirection()
            .then(|| redirect_host(&response, &transport.known()))
            .flatten();
        // Read for the budget, and on a 429 for the retry rules (the reset is its wait).
        let budgets = &transport.budgets;
        let rate_report = (status.as_u16() == 429 || !budgets.is_none())
            .then(|| crate::core::budget::reported(response.headers(), budgets.wants_policy()));
        {
            let mut seen = self.seen();
            seen.status = Some(status);
            seen.request_id = request_id;
            seen.retry_after = retry_after;
            seen.redirect_host = redirect_host;
            seen.rate_report = rate_report.flatten();
        }
        // Everything the facade needs from the headers is read; progenitor would only clone
        // them into a value nobody reads. (Taken, not cleared: a cleared map keeps its
        // capacity, and the clone would allocate it again.)
        drop(std::mem::take(response.headers_mut()));

        // A redirect is not followed, and its `Location` is all it says: its body is never
        // read (nor shown).
        if status.is_redirection() {
            return Ok(rebuilt(&response, Bytes::new()));
        }
        // An error answer needs no more than its start: it is parsed as an error envelope and
        // shown as a snippet, so its first 64 KiB are kept and the rest is never read. It is
        // read here, within the try's time limit, whatever its length says: an answer nobody
        // documents is otherwise read after the tries, where no limit applies.
        if status.is_client_error() || status.is_server_error() {
            let limit = scrub::SNIPPET_INPUT_BYTES.min(transport.max_body_bytes);
            // Boxed: rare, and its future would enlarge every request's.
            let start = Box::pin(collect_prefix(&mut response, limit)).await?;
            return Ok(rebuilt(&response, start));
        }
        match response.content_length() {
            // Within the cap: progenitor reads it as it is. hyper stops at the declared
            // length, so a lying server cannot exceed it. (`usize as u64` never truncates.)
            Some(n) if n <= transport.max_body_bytes as u64 => Ok(response),
            Some(_) => Ok(self.too_large(&response)),
            // Boxed: rare (a body of unknown length), and its future would enlarge every
            // request's.
            None => {
                let cap = transport.max_body_bytes;
                match Box::pin(collect_capped(&mut response, cap)).await? {
                    Some(body) => Ok(rebuilt(&response, body)),
                    None => Ok(self.too_large(&response)),
                }
            }
        }
    }

    /// An over-cap answer: recorded for `run`, and an empty body in its place (the rest is
    /// never read).
    fn too_large(&self, response: &Response) -> Response {
        self.seen().body_too_large = true;
        rebuilt(response, Bytes::new())
    }
}

/// Reads a body of unknown length, or `None` once it passes `cap`.
async fn collect_capped(response: &mut Response, cap: usize) -> reqwest::Result<Option<Bytes>> {
    let Some(first) = response.chunk().await? else {
        return Ok(Some(Bytes::new()));
    };
    if first.len() > cap {
        return Ok(None);
    }
    let Some(second) = response.chunk().await? else {
        // One chunk: used as is, no copy.
        return Ok(Some(first));
    };
    let mut body = BytesMut::from(&first[..]);
    let mut next = Some(second);
    while let Some(chunk) = next {
        if body.len() + chunk.len() > cap {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
        next = response.chunk().await?;
    }
    Ok(Some(body.freeze()))
}

/// The host a redirect's `Location` points to (resolved against the request URL), bounded and
/// escaped for an error message; withheld if it has a piece of one of the client's secrets in
/// it (URL parsing lowercases a host, maps it as UTS 46 does and writes a non-ASCII one in
/// punycode, so it is compared as loosely).
fn redirect_host(response: &Response, known: &Known) -> Option<String> {
    let location = response.headers().get(reqwest::header::LOCATION)?;
    let location = location.to_str().ok()?;
    let target = response.url().join(location).ok()?;
    let host = target.host_str()?;
    if known.shares_a_run_with(host) {
        return Some(scrub::WITHHELD.to_string());
    }
    Some(scrub::header_value(host, known))
}

/// A request as an in-process responder sees it (`test_util::Request`).
#[cfg(any(test, feature = "test-util"))]
fn in_process(request: Request) -> crate::test_util::Request {
    let body = request
        .body()
        .and_then(reqwest::Body::as_bytes)
        .map(Bytes::copy_from_slice)
        .unwrap_or_default();
    let mut built = http::Request::builder()
        .method(request.method().clone())
        .uri(request.url().as_str());
    if let Some(headers) = built.headers_mut() {
        *headers = request.headers().clone();
    }
    built
        .body(body)
        .expect("a reqwest request is a valid http request")
}

/// A response with `body` in place of the one it came with, and no headers (the facade has
/// read what it needs from them). The URL is carried over so reqwest need not parse a
/// placeholder.
fn rebuilt(response: &Response, body: Bytes) -> Response {
    let rebuilt = http::Response::builder()
        .status(response.status())
        .version(response.version())
        .url(response.url().clone())
        .body(body)
        .expect("status and version come from a valid response");
    Response::from(rebuilt)
}

/// The first `limit` bytes of a body (all of it if shorter); the rest is never read.
async fn collect_prefix(response: &mut Response, limit: usize) -> reqwest::Result<Bytes> {
    let mut body = BytesMut::new();
    while body.len() < limit {
        let Some(chunk) = response.chunk().await? else {
            break;
        };
        let take = chunk.len().min(limit - body.len());
        body.extend_from_slice(&chunk[..take]);
    }
    Ok(body.freeze())
}

/// Whether progenitor's name for an operation (its method: `calls_apps_list`) is the spec's
/// operationId (`calls-apps-list`).
pub(crate) fn same_operation(operation_id: &str, method: &str) -> bool {
    operation_id.len() == method.len()
        && operation_id
            .bytes()
            .zip(method.bytes())
            .all(|(id, name)| id == name || (id == b'-' && name == b'_'))
}

/// Implements progenitor's hooks for a generated client, delegating to its request's [`Call`],
/// and builds the client per request.
macro_rules! transport_hooks {
    ($client:ty) => {
        impl $crate::core::request::Generated for $client {
            fn build(base: &str, http: reqwest::Client, call: $crate::core::request::Call) -> Self {
                Self {
                    baseurl: base.to_string(),
                    client: http,
                    inner: call,
                }
            }

            fn call(&self) -> &$crate::core::request::Call {
                &self.inner
            }
        }

        impl progenitor_client::ClientHooks<$crate::core::request::Call> for $client {
            async fn pre<E>(
                &self,
                request: &mut reqwest::Request,
                info: &progenitor_client::OperationInfo,
            ) -> std::result::Result<(), progenitor_client::Error<E>> {
                // The request sent is the one the client was built for: its credentials, replay
                // rule and shown path are that operation's.
                debug_assert!(
                    $crate::core::hooks::same_operation(self.inner.op.id(), info.operation_id),
                    "a client built for {} sent {}",
                    self.inner.op.id(),
                    info.operation_id
                );
                self.inner.prepare(request);
                Ok(())
            }

            async fn exec(
                &self,
                request: reqwest::Request,
                _info: &progenitor_client::OperationInfo,
            ) -> reqwest::Result<reqwest::Response> {
                self.inner.execute(request).await
            }
        }
    };
}
// `build.rs` invokes it for every generated client (`src/generated.rs`).
pub(crate) use transport_hooks;

#[cfg(test)]
mod tests {
    use super::same_operation;

    #[test]
    fn progenitors_method_names_are_the_operation_ids() {
        assert!(same_operation("calls-apps-list", "calls_apps_list"));
        assert!(!same_operation("calls-apps-list", "calls_apps_get"));
        assert!(!same_operation("calls-apps-list", "calls_apps_list_all"));
        assert!(!same_operation("calls_apps-list", "calls-apps_list"));
        for operation in crate::operations::ALL {
            let method = operation.id.replace('-', "_");
            assert!(same_operation(operation.id, &method), "{}", operation.id);
        }
    }
}
