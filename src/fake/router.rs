//! One entry point for every request: read it (bounded), find its operation, check its
//! credentials, then apply a queued fault or serve it. Routing by hand rather than with axum's
//! router keeps every answer in the provider's own shape: an unknown path, a wrong method or
//! an identifier that is not one gets Cloudflare's envelope under `/client/v4` and Hover's
//! error under `/api`, never a framework's plain-text rejection.

use std::sync::Arc;

use axum::extract::{Request, State as Shared};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Router;

use super::faults::{self, Effect, Style};
use super::{cloudflare, control, hover, realtime, State};

/// The largest request body the fake reads (the APIs' bodies are a few KiB at most).
pub(crate) const BODY_LIMIT: usize = 16 * 1024;

/// The largest body the request log keeps (a longer one is logged without its body).
pub(crate) const RECORDED_BODY_BYTES: usize = 64 * 1024;

pub(crate) fn router(state: Arc<State>) -> Router {
    Router::new().fallback(dispatch).with_state(state)
}

/// An operation of any of the APIs.
enum Call {
    Cloudflare(cloudflare::Call),
    Realtime(realtime::Call),
    Hover(hover::Call),
}

impl Call {
    /// Whether its answer can be large (a list).
    fn large_answer(&self) -> bool {
        matches!(self, Call::Cloudflare(call) if call.is_list())
    }

    fn operation(&self) -> &'static str {
        match self {
            Call::Cloudflare(call) => call.operation(),
            Call::Realtime(call) => call.operation(),
            Call::Hover(call) => call.operation(),
        }
    }

    /// How its errors are written.
    fn style(&self) -> Style {
        match self {
            Call::Cloudflare(_) => Style::Cloudflare,
            Call::Realtime(_) => Style::Realtime,
            Call::Hover(_) => Style::Hover,
        }
    }
}

async fn dispatch(Shared(state): Shared<Arc<State>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    let cloudflare = path == "/client/v4" || path.starts_with("/client/v4/");
    let Ok(body) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        let message = format!("the request body is larger than {BODY_LIMIT} bytes");
        return if cloudflare {
            cloudflare::failure(StatusCode::PAYLOAD_TOO_LARGE, &[(6004, &message)])
        } else {
            hover::error(StatusCode::PAYLOAD_TOO_LARGE, &message)
        };
    };

    if path == "/__fake" || path.starts_with("/__fake/") {
        if let Some(refused) = control::refuse_browsers(&parts) {
            return refused;
        }
        let permit =
            control::large_answer(&parts.method, &path).then(|| large_answer_permit(&state));
        let permit = match permit {
            Some(permit) => Some(permit.await),
            None => None,
        };
        return holding(control::handle(&state, &parts.method, &path, &body), permit);
    }
    let call = if cloudflare {
        match cloudflare::route(&parts.method, &path["/client/v4".len()..]) {
            Ok(call) => Call::Cloudflare(call),
            Err(why) => return cloudflare::no_route(why, &path),
        }
    } else if path.starts_with("/v1/") {
        match realtime::route(&parts.method, &path) {
            Some(call) => Call::Realtime(call),
            None => return realtime::no_route(&parts.method, &path),
        }
    } else if path.starts_with("/api/") {
        match hover::route(&parts.method, &path) {
            Some(call) => Call::Hover(call),
            None => return hover::no_route(&parts.method, &path),
        }
    } else {
        return hover::error(StatusCode::NOT_FOUND, "Not Found");
    };

    let operation = call.operation();
    let record = |response: Response| {
        let state = state.clone();
        let (method, path, body) = (parts.method.to_string(), path.clone(), body.clone());
        async move {
            let (head, answer) = response.into_parts();
            let answer = axum::body::to_bytes(answer, usize::MAX)
                .await
                .unwrap_or_default();
            // The log keeps bodies up to 64 KiB, as bytes: a thousand big lists must not fill
            // memory.
            let kept = |bytes: &axum::body::Bytes| {
                (bytes.len() <= RECORDED_BODY_BYTES && !bytes.is_empty()).then(|| bytes.clone())
            };
            state.record(super::Entry {
                operation,
                method,
                path,
                request: kept(&body),
                status: head.status.as_u16(),
                response: kept(&answer),
            });
            Response::from_parts(head, axum::body::Body::from(answer))
        }
    };
    // Credentials first: a fault is consumed only by a request that would have been served,
    // so a stray or unauthenticated request cannot use up a test's fault.
    if let Some(denied) = authorize(&state, &call, &parts.headers, &body) {
        return record(denied).await;
    }
    let fault = state.faults().take(operation);
    let effect = fault.map(|fault| faults::effect(fault, call.style()));
    if let Some(Effect::Delay(wait)) = effect {
        tokio::time::sleep(wait).await;
    }
    // Taken after any stall: a permit is for the time an answer is in memory.
    let permit = match call.large_answer() {
        true => Some(large_answer_permit(&state).await),
        false => None,
    };
    let response = match effect {
        Some(Effect::Replace(response)) => record(response).await,
        None | Some(Effect::Delay(_)) => record(serve(&state, call, &body)).await,
        Some(effect) => faults::reshape(record(serve(&state, call, &body)).await, effect).await,
    };
    holding(response, permit)
}

/// How many answers that can be large (lists, the fake's state and log) are in memory at
/// once: each is at most about the store's or the log's budget, and a client that does not
/// read one holds it until it leaves.
pub(crate) const LARGE_ANSWERS: usize = 4;

async fn large_answer_permit(state: &State) -> tokio::sync::OwnedSemaphorePermit {
    state
        .large_answers
        .clone()
        .acquire_owned()
        .await
        .expect("the semaphore is never closed")
}

/// `response`, keeping `permit` until its body has been sent (or the client left).
fn holding(response: Response, permit: Option<tokio::sync::OwnedSemaphorePermit>) -> Response {
    let Some(permit) = permit else {
        return response;
    };
    use futures_util::StreamExt;
    let (head, body) = response.into_parts();
    // The permit goes with the stream: dropped once the body has been sent, or abandoned.
    let stream = body.into_data_stream().map(move |chunk| {
        let _held = &permit;
        chunk
    });
    Response::from_parts(head, axum::body::Body::from_stream(stream))
}

/// `None` when the request's credentials are accepted for `call`; the answer otherwise. A
/// login is "authenticated" when it carries the right email and password.
fn authorize(state: &State, call: &Call, headers: &HeaderMap, body: &[u8]) -> Option<Response> {
    match call {
        Call::Cloudflare(call) => cloudflare::authorize(state, call, headers),
        Call::Realtime(call) => realtime::authorize(state, call, headers),
        Call::Hover(hover::Call::Authenticate) => {
            if hover::credentials_match(state, body) {
                None
            } else {
                // Served as is: it answers 400 or 401, and consumes no fault.
                Some(hover::handle(state, hover::Call::Authenticate, body))
            }
        }
        Call::Hover(_) => hover::authorize(state, headers),
    }
}

fn serve(state: &State, call: Call, body: &[u8]) -> Response {
    match call {
        Call::Cloudflare(call) => cloudflare::handle(state, call, body),
        Call::Realtime(call) => realtime::handle(state, call, body),
        Call::Hover(call) => hover::handle(state, call, body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::response::IntoResponse;

    /// A large answer's permit is held until its body has been read to the end (a client that
    /// does not read keeps it), and given back then.
    #[tokio::test]
    async fn a_large_answer_holds_its_permit_until_its_body_is_sent() {
        let permits = Arc::new(tokio::sync::Semaphore::new(1));
        let permit = permits.clone().acquire_owned().await.unwrap();
        let response = holding("a body".into_response(), Some(permit));
        assert_eq!(permits.available_permits(), 0);
        let (_, body) = response.into_parts();
        let read = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        assert_eq!(&read[..], b"a body");
        assert_eq!(permits.available_permits(), 1);
        // An answer nobody reads gives it back when dropped (the client left).
        let permit = permits.clone().acquire_owned().await.unwrap();
        drop(holding("unread".into_response(), Some(permit)));
        assert_eq!(permits.available_permits(), 1);
    }
}
