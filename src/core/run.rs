//! Running one generated request: [`run`] runs it in a tracing span within its time limits,
//! tries it again when the retry policy says so, and turns progenitor's result into this
//! crate's [`Error`] ([`map_error`](crate::core::map_error)). Each request gets its own
//! generated client, whose `inner` value is the request's [`Call`] (the shared
//! [`Transport`], the operation, what each try saw); progenitor's hooks
//! ([`hooks`](crate::core::hooks)) add credentials and user agent and send one try.

use std::future::Future;

use progenitor_client::ResponseValue;
use tracing::Instrument;

use crate::core::budget::{Budgets, Permits};
use crate::core::config::ResponseInfo;
use crate::core::error::{Endpoint, ErrorBody, Provider};
use crate::core::plan::{deadline_after, Planned};
use crate::core::request::{Call, Generated, Seen};
use crate::core::retry;
use crate::core::transport::Transport;
use crate::operations::Replay;
use crate::Error;

/// What a successful request returns besides the body. The endpoint is built only when an
/// envelope turns out to be an error, so a success allocates nothing for it.
pub(crate) struct Meta {
    pub(crate) status: u16,
    provider: Provider,
    op: Planned,
    seen: Seen,
}

impl Meta {
    pub(crate) fn endpoint(&self) -> Endpoint {
        self.seen.endpoint(self.provider, self.op)
    }

    pub(crate) fn request_id(&self) -> Option<String> {
        self.seen.request_id.clone()
    }
}

/// How a try failed: with an answer (or a transport error) progenitor reports, or by running
/// out of its time.
pub(crate) enum TryError<E> {
    Answer(progenitor_client::Error<E>),
    TimedOut,
}

impl<E> TryError<E> {
    /// What the try came to, for the retry policy.
    fn outcome(&self, seen: &Seen) -> retry::Outcome {
        use progenitor_client::Error as P;
        use retry::Outcome;
        match self {
            TryError::TimedOut => Outcome::TimedOut,
            TryError::Answer(P::CommunicationError(e)) if e.is_connect() => Outcome::NotSent,
            TryError::Answer(P::CommunicationError(e))
                if e.is_timeout() || e.is_request() || e.is_body() =>
            {
                Outcome::Lost
            }
            // The answer's body could not be read to its end (cut short, reset): progenitor
            // reports only read failures here (it parses the JSON itself).
            TryError::Answer(P::ResponseBodyError(_)) => Outcome::Lost,
            TryError::Answer(
                P::ErrorResponse(_) | P::UnexpectedResponse(_) | P::InvalidResponsePayload(..),
            ) => match seen.status {
                // An answer over the size cap is only ever a 1xx, 2xx or past-599 one (error
                // answers are cut to their snippet, redirects lose their body), and the policy
                // retries none of those.
                Some(status) => Outcome::Status(status.as_u16()),
                None => Outcome::Final,
            },
            TryError::Answer(_) => Outcome::Final,
        }
    }
}
/// Runs one request on its generated client `api` ([`Base::client`](crate::core::request::Base::client)): span, time limits,
/// retries and error mapping.
///
/// `make` sends the request on `api`; it runs again for each retry. The whole request is boxed
/// once: the generated future is large, and would otherwise be part of (and copied with) the
/// caller's.
pub(crate) fn run<'a, C, T, E, F, Fut>(
    api: &'a C,
    account: Option<&'a str>,
    make: F,
) -> std::pin::Pin<Box<impl Future<Output = Result<(T, Meta), Error>> + 'a>>
where
    C: Generated,
    T: 'a,
    E: ErrorBody + 'a,
    F: Fn() -> Fut + 'a,
    Fut: Future<Output = Result<ResponseValue<T>, progenitor_client::Error<E>>> + 'a,
{
    let call = api.call();
    Box::pin(
        call.transport
            .run_unboxed(call, account, &call.transport.budgets, make),
    )
}

/// [`run`] through `budgets` instead of the client's (a Realtime SFU session's own pace).
pub(crate) fn run_paced<'a, C, T, E, F, Fut>(
    api: &'a C,
    budgets: &'a Budgets,
    make: F,
) -> std::pin::Pin<Box<impl Future<Output = Result<(T, Meta), Error>> + 'a>>
where
    C: Generated,
    T: 'a,
    E: ErrorBody + 'a,
    F: Fn() -> Fut + 'a,
    Fut: Future<Output = Result<ResponseValue<T>, progenitor_client::Error<E>>> + 'a,
{
    let call = api.call();
    Box::pin(call.transport.run_unboxed(call, None, budgets, make))
}

impl Transport {
    async fn run_unboxed<T, E, F, Fut>(
        &self,
        call: &Call,
        account: Option<&str>,
        budgets: &Budgets,
        make: F,
    ) -> Result<(T, Meta), Error>
    where
        E: ErrorBody,
        F: Fn() -> Fut,
        Fut: Future<Output = Result<ResponseValue<T>, progenitor_client::Error<E>>>,
    {
        let op = call.op;
        let span = tracing::info_span!(
            "apps_api.request",
            provider = %self.provider,
            operation = op.id(),
            method = op.method(),
            path = op.path(),
            account_id = account.unwrap_or(""),
            attempt = tracing::field::Empty,
            status = tracing::field::Empty,
            cf_ray = tracing::field::Empty,
        );
        let replayable = op
            .replay
            .sent_again(op.method(), self.retry.retry_non_idempotent);
        let per_try = op.timeout.unwrap_or(self.request_timeout);
        let total = op.total.unwrap_or(self.total_timeout);
        let deadline = op.deadline.unwrap_or_else(|| deadline_after(total));
        let mut tries = retry::Tries::default();
        let mut attempt: u32 = 0;
        // A dry run sends nothing, so it takes nothing from the budget.
        let unbudgeted = Budgets::default();
        let budgets = if crate::core::dry_run::active() {
            &unbudgeted
        } else {
            budgets
        };
        // A request does not wait for another's 429 longer than for its own.
        let longest_block = self.retry.max_retry_after;
        let mut permits = Permits::default();
        if !budgets.is_none() {
            match budgets.acquire(deadline, longest_block, &span).await {
                Ok(places) => permits = places,
                Err(wait) => {
                    let endpoint = call.seen().endpoint(self.provider, op);
                    return Err(self.budget_refusal(endpoint, wait));
                }
            }
        }
        // The limit of the try that ran out of time, as a `Timeout` error names it: the
        // request's overall limit when the deadline cut the try short.
        let mut timed_out_after = per_try;
        let result = loop {
            attempt += 1;
            // A try may take what is left of the deadline, and no more; with nothing left it is
            // not started (a zero timer can fire after a fast answer, not before).
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Err(Error::Timeout {
                    endpoint: Box::new(call.seen().endpoint(self.provider, op)),
                    after: total,
                });
            }
            // (`<=` would do as well: with exactly `per_try` left, the try's limit is the same,
            // and it ran out at both limits, so either is the one to name.)
            let (limit, after) = if left < per_try {
                (left, total)
            } else {
                (per_try, per_try)
            };
            permits.sending();
            // The request writes its (large) result here, so that what each poll passes up
            // through the span and the timer is `()`, not the result.
            let mut outcome = None;
            let in_time = {
                let request = std::pin::pin!(async { outcome = Some(make().await) });
                // Entering a span on every poll costs something even when nobody listens.
                if span.is_disabled() {
                    tokio::time::timeout(limit, request).await
                } else {
                    span.record("attempt", attempt);
                    let in_time =
                        tokio::time::timeout(limit, request.instrument(span.clone())).await;
                    let seen = call.seen();
                    if let Some(status) = seen.status {
                        span.record("status", status.as_u16());
                    }
                    if let Some(ray) = &seen.request_id {
                        span.record("cf_ray", ray.as_str());
                    }
                    in_time
                }
            };
            let result = match (in_time, outcome) {
                (Ok(()), Some(result)) => result.map_err(TryError::Answer),
                _ => {
                    timed_out_after = after;
                    Err(TryError::TimedOut)
                }
            };
            if call.seen().prepared {
                return Err(crate::core::dry_run::not_sent());
            }
            // What the retry rules make of a failure, before the budget hears of the answer: a
            // 429 blocks it for the wait they read.
            let next = match &result {
                Ok(_) => retry::Next::END,
                Err(error) => {
                    let seen = call.seen();
                    let outcome = error.outcome(&seen);
                    let server_wait = match outcome {
                        retry::Outcome::Status(429) => seen.retry_after.or_else(|| {
                            seen.rate_report
                                .and_then(|report| report.remaining)
                                .map(|(_, reset)| reset)
                        }),
                        _ => seen.retry_after,
                    };
                    let next =
                        retry::next_try(&self.retry, outcome, replayable, server_wait, &mut tries);
                    if op.replay == Replay::Once {
                        retry::Next { wait: None, ..next }
                    } else {
                        next
                    }
                }
            };
            if !permits.is_empty() {
                let mut seen = call.seen();
                if seen.status.is_some() {
                    permits.answered(next.block, seen.rate_report.take());
                } else if matches!(&result, Err(e) if e.outcome(&seen) == retry::Outcome::NotSent) {
                    permits.unsent();
                } else {
                    // No answer: the request may have been counted, so its places stay spent.
                    permits = Permits::default();
                }
            }
            if let Some(hook) = &self.on_response {
                let seen = call.seen();
                if let Some(status) = seen.status {
                    hook(&ResponseInfo {
                        operation: op.id(),
                        method: op.method(),
                        status: status.as_u16(),
                        attempt,
                        request_id: seen.request_id.as_deref(),
                    });
                }
            }
            let Err(mut error) = result else { break result };
            let Some(wait) = next.wait else {
                break Err(error);
            };
            // A wait that would end past the deadline is not started: the request ends now
            // with what it has (a 429 with its Retry-After, a 503, a lost connection).
            if wait >= deadline.saturating_duration_since(tokio::time::Instant::now()) {
                break Err(error);
            }
            if let TryError::Answer(progenitor_client::Error::UnexpectedResponse(response)) =
                &mut error
            {
                // Read the rest of the body so the connection can be reused, but only for the
                // time the wait leaves: a body that trickles must not push the wait past the
                // deadline.
                let until = deadline
                    .checked_sub(wait)
                    .unwrap_or_else(tokio::time::Instant::now);
                let _ = tokio::time::timeout_at(until, drain(response)).await;
            }
            tracing::debug!(
                parent: &span,
                attempt,
                // Saturates: a wait is at most a day (RETRY_AFTER_CEILING).
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                status = call.seen().status.map(|s| s.as_u16()),
                "retrying"
            );
            self.sleeper.sleep(wait).await;
            if !budgets.is_none() {
                // No place in time: the request ends with what it has.
                match budgets.acquire(deadline, longest_block, &span).await {
                    Ok(places) => permits = places,
                    Err(_) => break Err(error),
                }
            }
        };
        let error = match result {
            Ok(value) => {
                let meta = Meta {
                    status: value.status().as_u16(),
                    provider: self.provider,
                    op,
                    seen: call.take_seen(),
                };
                return Ok((value.into_inner(), meta));
            }
            Err(TryError::TimedOut) => Error::Timeout {
                endpoint: Box::new(call.seen().endpoint(self.provider, op)),
                after: timed_out_after,
            },
            // The body of an answer the operation does not document is read here, after the
            // tries: still within the deadline. (Boxed: the error path's future would otherwise
            // enlarge, and be copied with, every request's future.)
            Err(TryError::Answer(e)) => {
                let seen = call.take_seen();
                let read = Box::pin(self.map_error(e, &seen, op));
                match tokio::time::timeout_at(deadline, read).await {
                    Ok(error) => error,
                    Err(_) => Error::Timeout {
                        endpoint: Box::new(seen.endpoint(self.provider, op)),
                        after: total,
                    },
                }
            }
        };
        let _guard = span.enter();
        tracing::debug!(error = %error, "request failed");
        Err(error)
    }
}

/// Reads (a bounded part of) a body about to be discarded, so the connection can be reused.
async fn drain(response: &mut reqwest::Response) {
    let mut left: usize = 64 * 1024;
    while let Ok(Some(chunk)) = response.chunk().await {
        match left.checked_sub(chunk.len()) {
            Some(rest) => left = rest,
            None => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::config::Options;

    fn outcome_of(error: reqwest::Error) -> retry::Outcome {
        TryError::<()>::Answer(progenitor_client::Error::CommunicationError(error))
            .outcome(&Seen::default())
    }

    #[test]
    fn a_request_that_cannot_be_built_is_not_tried_again() {
        let client = Options::default()
            .http_client("https://example.com")
            .unwrap();
        let error = client.get("https://exa mple.com/").build().unwrap_err();
        assert!(error.is_builder(), "{error:?}");
        assert_eq!(outcome_of(error), retry::Outcome::Final);
    }
}
