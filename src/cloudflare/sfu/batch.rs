//! Batch answers: each request item's outcome, successes and failures apart, keyed by what the
//! request said (a failed item may come back with an empty `mid`).

use std::fmt;

use crate::core::scrub;
use crate::generated::sfu::types as wire;

/// The outcome of a batch request (tracks, data channels, adapters): every item of the request,
/// either succeeded with its answer or failed with its own error code. An HTTP 200 can carry
/// failed items, so a batch (and every answer holding one) is `#[must_use]`;
/// [`Batch::into_result`] fails if any item failed, [`Batch::into_parts`] hands both over, and
/// [`Batch::succeeded`] alone is only the successes: read [`Batch::failed`] beside it.
///
/// Items are matched to the request by what the request said (a track's `trackName` and
/// `sessionId`, a close's `mid`, a data channel's name, location and `sessionId` or its `id`, an
/// adapter's `adapterId`); an answer item that names nothing is taken only as a failure, for the
/// remaining request items in order. A request item the answer does not account for is a failure
/// with [`ItemCode::NoAnswer`].
#[must_use = "a batch can hold failed items: read `failed()`, or call `into_result()`"]
#[derive(Clone, Debug, PartialEq)]
pub struct Batch<Q, A> {
    succeeded: Vec<(Q, A)>,
    failed: Vec<ItemFailure<Q>>,
}

impl<Q, A> Batch<Q, A> {
    pub(crate) fn new() -> Self {
        Self {
            succeeded: Vec::new(),
            failed: Vec::new(),
        }
    }

    pub(crate) fn push_ok(&mut self, request: Q, answer: A) {
        self.succeeded.push((request, answer));
    }

    pub(crate) fn push_failed(&mut self, failure: ItemFailure<Q>) {
        self.failed.push(failure);
    }

    /// The items that succeeded, each with the request item it answers.
    pub fn succeeded(&self) -> &[(Q, A)] {
        &self.succeeded
    }

    /// The items that failed, each with the request item it answers: send these again (never
    /// the whole request: the others were done).
    pub fn failed(&self) -> &[ItemFailure<Q>] {
        &self.failed
    }

    /// Whether every item succeeded.
    pub fn is_complete(&self) -> bool {
        self.failed.is_empty()
    }

    /// The successes and the failures.
    pub fn into_parts(self) -> (Vec<(Q, A)>, Vec<ItemFailure<Q>>) {
        (self.succeeded, self.failed)
    }

    /// The successes if every item succeeded; otherwise both, as an error.
    pub fn into_result(self) -> Result<Vec<(Q, A)>, PartialFailure<Q, A>> {
        if self.failed.is_empty() {
            Ok(self.succeeded)
        } else {
            Err(PartialFailure { batch: self })
        }
    }
}

/// A batch in which some items failed ([`Batch::into_result`]); it keeps the successes, which
/// took effect.
#[derive(Clone, Debug, PartialEq)]
pub struct PartialFailure<Q, A> {
    /// The whole batch.
    pub batch: Batch<Q, A>,
}

impl<Q, A> fmt::Display for PartialFailure<Q, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of {} items failed",
            self.batch.failed.len(),
            self.batch.failed.len() + self.batch.succeeded.len()
        )?;
        for (i, failure) in self.batch.failed.iter().enumerate().take(5) {
            f.write_str(if i == 0 { ": " } else { "; " })?;
            write!(f, "{}", failure.code)?;
            if let Some(description) = &failure.description {
                write!(f, " ({description})")?;
            }
        }
        Ok(())
    }
}

impl<Q: fmt::Debug, A: fmt::Debug> std::error::Error for PartialFailure<Q, A> {}

/// One request item that failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ItemFailure<Q> {
    /// The request item, as sent.
    pub request: Q,
    /// Why, as the SFU said (or [`ItemCode::NoAnswer`]).
    pub code: ItemCode,
    /// The SFU's description: at most 128 bytes, control characters escaped, the client's
    /// secrets withheld.
    pub description: Option<String>,
}

macro_rules! item_codes {
    ($($(#[$doc:meta])* $variant:ident = $text:literal,)*) => {
        /// A per-item error code. Codes the client does not know are kept as text
        /// ([`ItemCode::Other`]).
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ItemCode {
            $($(#[$doc])* $variant,)*
            /// The answer listed no item for this request item (or one the client could not
            /// read: a data channel without a valid `id`, an adapter without an `adapterId`).
            NoAnswer,
            /// A code this client does not know, as the SFU wrote it (at most 128 bytes, control
            /// characters escaped, the client's secrets withheld).
            Other(String),
        }

        impl ItemCode {
            /// The code as the SFU writes it (`no_answer` for [`ItemCode::NoAnswer`]).
            pub fn as_str(&self) -> &str {
                match self {
                    $(ItemCode::$variant => $text,)*
                    ItemCode::NoAnswer => "no_answer",
                    ItemCode::Other(code) => code,
                }
            }

            pub(crate) fn parse(code: &str) -> Self {
                match code {
                    $($text => ItemCode::$variant,)*
                    other => ItemCode::Other(other.to_string()),
                }
            }
        }
    };
}

item_codes! {
    /// The publication was not found, or its publisher is not connected or not sending.
    NotFoundTrack = "not_found_track_error",
    /// No source media arrived in time.
    EmptyTrack = "empty_track_error",
    /// The data channel allocation already exists.
    RepeatedLocalTrack = "repeated_local_track_error",
    /// Not a simulcast-capable track.
    UpdateTrack = "update_track_error",
    /// The track or data channel is absent or already closed (a close reads it as closed).
    CloseTrack = "close_track_error",
    /// An adapter endpoint on localhost.
    WebsocketLocalhostNotAllowed = "websocket_localhost_not_allowed",
    /// The adapter's WebSocket handshake failed.
    WebsocketHandshakeFailed = "websocket_handshake_failed",
    /// The adapter's WebSocket connection timed out.
    WebsocketConnectionTimeout = "websocket_connection_timeout",
    /// No such adapter (a close reads it as closed).
    AdapterNotFound = "adapter_not_found",
    /// A transient failure: retry the item.
    RetryableTransient = "retryable_transient_error",
    /// The service is temporarily unavailable.
    TemporarilyUnavailable = "temporarily_unavailable_error",
    /// The session's transport is unavailable.
    TransportUnavailable = "transport_unavailable_error",
    /// A backend failure.
    Backend = "backend_error",
    /// An internal failure ("Backend error").
    Internal = "internal_error",
}

impl ItemCode {
    /// Whether sending the item again may succeed: the service's transient codes. (Whether a
    /// pull of a track that is not published yet will succeed later is the caller's call.)
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ItemCode::RetryableTransient
                | ItemCode::TemporarilyUnavailable
                | ItemCode::TransportUnavailable
                | ItemCode::Backend
                | ItemCode::Internal
        )
    }
}

impl fmt::Display for ItemCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a close item ended: both mean the thing is closed now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Closed {
    /// Closed by this request.
    Closed,
    /// It was absent or closed already (`close_track_error`, `adapter_not_found`).
    AlreadyClosed,
}

/// A request item and its answer item, if any, with whether the answer item named it.
pub(crate) type Paired<Q, A> = (Q, Option<(A, bool)>);

/// Pairs each request item with the answer item that names it (`same`), then the answer items
/// that name nothing (`anonymous`) with the remaining request items in order; each pair says
/// whether the item named its request. The answer items left over come back apart.
pub(crate) fn pair<Q, A>(
    requests: Vec<Q>,
    answers: Vec<A>,
    same: impl Fn(&Q, &A) -> bool,
    anonymous: impl Fn(&A) -> bool,
) -> (Vec<Paired<Q, A>>, Vec<A>) {
    let mut answers: Vec<Option<A>> = answers.into_iter().map(Some).collect();
    let mut paired: Vec<Paired<Q, A>> = Vec::with_capacity(requests.len());
    for request in requests {
        let found = answers
            .iter_mut()
            .find(|a| {
                a.as_ref()
                    .is_some_and(|a| !anonymous(a) && same(&request, a))
            })
            .and_then(Option::take);
        paired.push((request, found.map(|a| (a, true))));
    }
    let (rest, mut left): (Vec<A>, Vec<A>) =
        answers.into_iter().flatten().partition(|a| anonymous(a));
    let mut rest = rest.into_iter();
    for (_, answer) in paired.iter_mut().filter(|(_, a)| a.is_none()) {
        match rest.next() {
            Some(next) => *answer = Some((next, false)),
            None => break,
        }
    }
    left.extend(rest);
    (paired, left)
}

/// Why an item failed: its code and the SFU's description.
pub(crate) type Failed = (ItemCode, Option<wire::SfuErrorDescription>);

/// How the items of an answer are matched to the request's.
pub(crate) struct Rules<'a, Q, W> {
    /// Whether an answer item names this request item.
    pub(crate) same: &'a dyn Fn(&Q, &W) -> bool,
    /// Whether an answer item names nothing (no name, an empty `mid`).
    pub(crate) anonymous: &'a dyn Fn(&W) -> bool,
    /// The request item an answer item stands for when the request did not ask for it (tracks
    /// the SFU discovered itself), if such items are expected.
    pub(crate) unasked: &'a dyn Fn(&W) -> Option<Q>,
}

/// A failed item's code and its description, made safe to show.
pub(crate) fn item_error(code: &str, description: Option<wire::SfuErrorDescription>) -> Failed {
    (ItemCode::parse(code), description)
}

/// Each request item with its answer item judged: `judge` turns an answer item into the success,
/// or says why it failed.
///
/// An item that names nothing is taken only as a failure (as a success it could stand for any
/// request item: [`ItemCode::NoAnswer`]). An item left over that fails and names a request item
/// judged a success makes that one a failure: a failure is never lost to a duplicate. Items left
/// over that stand for something the request did not ask for (`unasked`) are added.
pub(crate) fn settle<Q, W: ItemError, A>(
    requests: Vec<Q>,
    items: Vec<W>,
    rules: Rules<'_, Q, W>,
    known: &scrub::Known,
    judge: impl Fn(W) -> Result<A, Failed>,
) -> Batch<Q, A> {
    let (paired, left) = pair(requests, items, rules.same, rules.anonymous);
    let mut outcomes: Vec<(Q, Result<A, Failed>)> = paired
        .into_iter()
        .map(|(request, item)| {
            let outcome = match item {
                None => Err((ItemCode::NoAnswer, None)),
                Some((item, false)) if item.error().is_none() => Err((ItemCode::NoAnswer, None)),
                Some((item, _)) => judge(item),
            };
            (request, outcome)
        })
        .collect();
    // Each item left over is about a request item already accounted for (a duplicate: a
    // failure wins over a success, whatever the order), or about one nobody asked for (added
    // once: a later item naming it is a duplicate of it).
    for item in left {
        let named_ok = outcomes
            .iter()
            .position(|(request, outcome)| outcome.is_ok() && (rules.same)(request, &item));
        let named = named_ok.is_some()
            || outcomes
                .iter()
                .any(|(request, _)| (rules.same)(request, &item));
        match (named_ok, item.error().is_some()) {
            (Some(at), true) => {
                if let Err(failed) = judge(item) {
                    outcomes[at].1 = Err(failed);
                }
            }
            _ if named => {}
            _ => {
                if let Some(request) = (rules.unasked)(&item) {
                    outcomes.push((request, judge(item)));
                }
            }
        }
    }
    let mut batch = Batch::new();
    for (request, outcome) in outcomes {
        match outcome {
            Ok(answer) => batch.push_ok(request, answer),
            Err((code, description)) => batch.push_failed(ItemFailure {
                request,
                // A code the client does not know is the server's text, shown as such.
                code: match code {
                    ItemCode::Other(text) => {
                        ItemCode::Other(scrub::message(&text, known, scrub::SHORT_BYTES))
                    }
                    known_code => known_code,
                },
                description: description.map(|d| scrub::message(&d.0, known, scrub::SHORT_BYTES)),
            }),
        }
    }
    batch
}

/// Nothing is expected beyond what the request asked for.
pub(crate) fn none_unasked<Q, W>(_: &W) -> Option<Q> {
    None
}

/// An answer item's own error.
pub(crate) trait ItemError {
    fn error(&self) -> Option<&str>;
    fn description(self) -> Option<wire::SfuErrorDescription>;
}

macro_rules! item_error {
    ($($ty:ty),*) => {$(
        impl ItemError for $ty {
            fn error(&self) -> Option<&str> {
                self.error_code.as_ref().map(|c| c.0.as_str())
            }

            fn description(self) -> Option<wire::SfuErrorDescription> {
                self.error_description
            }
        }
    )*};
}
item_error!(
    wire::SfuTrackResult,
    wire::SfuClosedTrack,
    wire::SfuDataChannelResult,
    wire::SfuAdapterResult
);

/// Judges an item that succeeds only without an `errorCode`, and only if `ok` can read it.
pub(crate) fn plain<W: ItemError, A>(
    ok: impl Fn(W) -> Option<A>,
) -> impl Fn(W) -> Result<A, (ItemCode, Option<wire::SfuErrorDescription>)> {
    move |item| {
        if let Some(code) = item.error() {
            let code = ItemCode::parse(code);
            return Err((code, item.description()));
        }
        ok(item).ok_or((ItemCode::NoAnswer, None))
    }
}

#[cfg(test)]
mod tests;
