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

use super::cloudflare::{self, sfu, turn};
use super::faults::{self, Effect};
use super::resolve::{self, Api, Handler, Params};
use super::{control, hover, rate, State};
use crate::operations::{self as ops, Credential, Operation};

/// The largest request body the fake reads (the APIs' bodies are a few KiB at most).
pub(crate) const BODY_LIMIT: usize = 16 * 1024;

/// The largest request body of the Realtime data plane: a browser's session description of a
/// call of many (Chromium's is about 2 KiB a video section).
pub(crate) const REALTIME_BODY_LIMIT: usize = 256 * 1024;

/// The largest body the request log keeps (a longer one is logged without its body).
pub(crate) const RECORDED_BODY_BYTES: usize = 64 * 1024;

pub(crate) fn router(state: Arc<State>) -> Router {
    Router::new().fallback(dispatch).with_state(state)
}

/// What serves each operation.
fn handler(operation: &Operation) -> Option<Handler> {
    cloudflare::routes()
        .chain(hover::ROUTES)
        .find(|(op, _)| *op == operation)
        .map(|(_, handler)| *handler)
}

/// Whether an operation's answer can be large: a `GET` of a collection (a list).
fn large_answer(operation: &Operation) -> bool {
    operation.method == "GET" && !operation.path.ends_with('}')
}

async fn dispatch(Shared(state): Shared<Arc<State>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    let api = Api::at(&path);
    let limit = match api {
        Some(Api::Realtime) => REALTIME_BODY_LIMIT,
        _ => BODY_LIMIT,
    };
    let Ok(body) = axum::body::to_bytes(body, limit).await else {
        let message = format!("the request body is larger than {limit} bytes");
        return match api {
            Some(Api::Hover) => hover::error(StatusCode::PAYLOAD_TOO_LARGE, &message),
            Some(Api::Realtime) => {
                turn::error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", &message)
            }
            _ => cloudflare::error_envelope(StatusCode::PAYLOAD_TOO_LARGE, &[(6004, &message)]),
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
    let Some(api) = api else {
        return hover::error(StatusCode::NOT_FOUND, "Not Found");
    };
    let (operation, params) = match resolve::find(&parts.method, &path) {
        Ok(found) => found,
        Err(why) => {
            return match api {
                Api::Cloudflare => cloudflare::no_route(why, &path),
                Api::Realtime => turn::no_route(&parts.method, &path),
                Api::Hover => hover::no_route(&parts.method, &path),
            }
        }
    };
    let Some(serve) = handler(operation) else {
        return hover::error(
            StatusCode::NOT_IMPLEMENTED,
            &format!("the fake has no handler for {}", operation.id),
        );
    };

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
                operation: operation.id,
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
    if let Some(denied) = authorize(&state, operation, &params, &parts.headers, &body) {
        return record(denied).await;
    }
    // Counted once the credential is known, before any fault: Cloudflare counts every request.
    let limited = match Api::of(operation) {
        Api::Cloudflare => {
            let credential = cloudflare::credential(&parts.headers);
            state.rate().check(&credential, tokio::time::Instant::now())
        }
        _ => None,
    };
    if let Some((quota, verdict @ rate::Verdict::Refused { wait })) = limited {
        return rate::with_headers(record(rate::refusal(wait)).await, quota, verdict);
    }
    let fault = state.faults().take(operation.id);
    let effect = fault.map(|fault| faults::effect(fault, Api::of(operation)));
    if let Some(Effect::Delay(wait)) = effect {
        tokio::time::sleep(wait).await;
    }
    // Taken after any stall: a permit is for the time an answer is in memory.
    let permit = match large_answer(operation) {
        true => Some(large_answer_permit(&state).await),
        false => None,
    };
    let response = match effect {
        Some(Effect::Replace(response)) => record(response).await,
        None | Some(Effect::Delay(_)) => record(serve(&state, &params, &body)).await,
        Some(effect) => faults::reshape(record(serve(&state, &params, &body)).await, effect).await,
    };
    let response = match limited {
        Some((quota, verdict)) => rate::with_headers(response, quota, verdict),
        None => response,
    };
    holding(response, permit)
}

/// `None` when the request's credentials are accepted for `operation`; the answer otherwise. A
/// login is "authenticated" when it carries the right email and password.
fn authorize(
    state: &State,
    operation: &Operation,
    params: &Params,
    headers: &HeaderMap,
    body: &[u8],
) -> Option<Response> {
    match operation.credential {
        Credential::ApiToken | Credential::ApiTokenOrKey => {
            cloudflare::authorize(state, operation, headers)
        }
        // The SFU's paths name a Calls app, whose secret is their bearer; TURN's name a key.
        Credential::AppSecret => sfu::authorize(state, params, headers),
        Credential::TurnKey => turn::authorize(state, params, headers),
        Credential::HoverJwt => hover::authorize(state, headers),
        // The login, served as is when refused: it answers 400 or 401, and consumes no fault.
        Credential::None if *operation == ops::HOVER_AUTHENTICATE => {
            (!hover::credentials_match(state, body)).then(|| {
                let (_, login) = hover::ROUTES[0];
                login(state, params, body)
            })
        }
        // An operation its spec says takes no credential.
        Credential::None => None,
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::response::IntoResponse;

    /// Every operation of the specs has a route (by construction: `resolve::find` reads the
    /// table) and something that serves it.
    #[test]
    fn every_operation_has_a_handler() {
        let missing: Vec<&str> = crate::operations::ALL
            .iter()
            .filter(|op| handler(op).is_none())
            .map(|op| op.id)
            .collect();
        assert!(missing.is_empty(), "no handler for {missing:?}");
    }

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
