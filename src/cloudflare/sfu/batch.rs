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
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: crate::core::proptest_cases(),
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// Whatever an answer lists (names the request has or not, repeated, missing, extra):
        /// every request item comes back once, in order; each answer item goes to at most one
        /// request item, and only to one it names, or, if it names nothing, to one left over.
        #[test]
        fn every_request_item_comes_back_once(
            requests in proptest::collection::vec(0u8..6, 0..10),
            answers in proptest::collection::vec(proptest::option::of(0u8..8), 0..12),
        ) {
            let answers: Vec<(usize, Option<u8>)> = answers.into_iter().enumerate().collect();
            let (paired, left) = pair(
                requests.clone(),
                answers.clone(),
                |q, a| a.1 == Some(*q),
                |a| a.1.is_none(),
            );
            prop_assert_eq!(paired.iter().map(|(q, _)| *q).collect::<Vec<_>>(), requests);
            let mut used = std::collections::HashSet::new();
            for (request, answer) in &paired {
                if let Some(((index, name), by_name)) = answer {
                    prop_assert!(used.insert(*index), "answer {} used twice", index);
                    prop_assert_eq!(*by_name, name.is_some());
                    prop_assert!(name.is_none_or(|n| n == *request));
                }
            }
            // Every answer item is paired or left over, once.
            for (index, _) in &left {
                prop_assert!(used.insert(*index), "answer {} paired and left over", index);
            }
            prop_assert_eq!(used.len(), answers.len());
            // A request left without an answer: no answer naming it, nor any anonymous one, is
            // left over.
            for (request, answer) in &paired {
                if answer.is_none() {
                    let unused = left
                        .iter()
                        .any(|(_, name)| name.is_none() || *name == Some(*request));
                    prop_assert!(!unused, "request {} left unanswered", request);
                }
            }
        }
    }

    /// An answer item for [`settle`]'s property: a name (or none) and an error code (or none).
    #[derive(Clone, Debug)]
    struct Item(Option<u8>, Option<&'static str>);

    impl ItemError for Item {
        fn error(&self) -> Option<&str> {
            self.1
        }

        fn description(self) -> Option<wire::SfuErrorDescription> {
            None
        }
    }

    /// What a batch says of each item, whatever the order it was told in: each request item's
    /// outcome (sorted, as two request items of one name may trade answers), and each
    /// discovered one's.
    fn accounting(batch: &Batch<u8, Option<u8>>) -> Vec<(u8, bool)> {
        let mut seen: Vec<(u8, bool)> = batch
            .succeeded()
            .iter()
            .map(|(request, _)| (*request, true))
            .chain(batch.failed().iter().map(|f| (f.request, false)))
            .collect();
        seen.sort_unstable();
        seen
    }

    fn settled(requests: &[u8], items: Vec<Item>) -> Batch<u8, Option<u8>> {
        let rules = Rules {
            same: &|q: &u8, a: &Item| a.0 == Some(*q),
            anonymous: &|a: &Item| a.0.is_none(),
            // Names past 3 are tracks the SFU discovered itself.
            unasked: &|a: &Item| a.0,
        };
        settle(
            requests.to_vec(),
            items,
            rules,
            &scrub::Known::default(),
            plain(|item: Item| Some(item.0)),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: crate::core::proptest_cases(),
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// Whatever the order of an answer's items (`autoDiscover` included): every request
        /// item is accounted for once, in order, succeeded or failed alike in every order, a
        /// failure never lost to a success of the same name, and each track nobody asked for
        /// added once.
        #[test]
        fn every_item_is_accounted_for_once_whatever_the_order(
            requests in proptest::collection::vec(0u8..4, 0..5),
            items in proptest::collection::vec(
                (proptest::option::of(0u8..6), proptest::option::of(Just("internal_error"))),
                0..9,
            ),
            order in proptest::collection::vec(any::<u32>(), 9),
        ) {
            let items: Vec<Item> = items.into_iter().map(|(name, code)| Item(name, code)).collect();
            let mut shuffled: Vec<(u32, Item)> = order.into_iter().zip(items.clone()).collect();
            shuffled.sort_by_key(|(key, _)| *key);
            let shuffled: Vec<Item> = shuffled.into_iter().map(|(_, item)| item).collect();
            let (one, other) = (settled(&requests, items.clone()), settled(&requests, shuffled));
            prop_assert_eq!(accounting(&one), accounting(&other));
            let asked: Vec<u8> = {
                let mut all = accounting(&one);
                all.retain(|(name, _)| requests.contains(name));
                all.into_iter().map(|(name, _)| name).collect()
            };
            let mut expected = requests.clone();
            expected.sort_unstable();
            prop_assert_eq!(asked, expected, "each request item once");
            for (name, ok) in accounting(&one) {
                let failure_named = items.iter().any(|i| i.0 == Some(name) && i.1.is_some());
                let asked_once = requests.iter().filter(|q| **q == name).count() <= 1;
                if failure_named && asked_once {
                    prop_assert!(!ok, "{} succeeded beside its failure", name);
                }
                if !requests.contains(&name) {
                    let discovered = accounting(&one).iter().filter(|(n, _)| *n == name).count();
                    prop_assert_eq!(discovered, 1, "{} discovered once", name);
                }
            }
        }
    }

    /// The case that was found: a failure then a success of the same track is the failure,
    /// as the other way round is, not a failure and a discovered success.
    #[test]
    fn a_failure_and_a_success_of_one_track_are_one_failure_either_way() {
        for items in [
            vec![Item(Some(1), Some("internal_error")), Item(Some(1), None)],
            vec![Item(Some(1), None), Item(Some(1), Some("internal_error"))],
        ] {
            let batch = settled(&[1], items);
            assert_eq!(accounting(&batch), [(1, false)]);
        }
    }

    #[test]
    fn pairs_by_name_then_the_anonymous_in_order() {
        let requests = vec!["a", "b", "c", "d"];
        let answers = vec![("c", 1), ("", 2), ("a", 3), ("zz", 4), ("", 5)];
        let (paired, left) = pair(requests, answers, |q, a| *q == a.0, |a| a.0.is_empty());
        assert_eq!(
            paired,
            vec![
                ("a", Some((("a", 3), true))),
                ("b", Some((("", 2), false))),
                ("c", Some((("c", 1), true))),
                ("d", Some((("", 5), false))),
            ]
        );
        assert_eq!(left, vec![("zz", 4)]);
    }

    #[test]
    fn a_request_item_without_an_answer_is_left_without() {
        let (paired, left) = pair(
            vec!["a", "b"],
            vec![("b", 1)],
            |q, a| *q == a.0,
            |a| a.0.is_empty(),
        );
        assert_eq!(paired, vec![("a", None), ("b", Some((("b", 1), true)))]);
        assert!(left.is_empty());
    }

    #[test]
    fn two_requests_with_the_same_name_take_one_answer_each() {
        let (paired, left) = pair(
            vec!["a", "a"],
            vec![("a", 1), ("a", 2), ("a", 3)],
            |q, a| *q == a.0,
            |a| a.0.is_empty(),
        );
        assert_eq!(
            paired,
            vec![("a", Some((("a", 1), true))), ("a", Some((("a", 2), true)))]
        );
        assert_eq!(left, vec![("a", 3)]);
    }

    #[test]
    fn codes_round_trip_and_unknown_ones_are_kept() {
        for text in [
            "not_found_track_error",
            "close_track_error",
            "internal_error",
        ] {
            assert_eq!(ItemCode::parse(text).as_str(), text);
            assert!(!matches!(ItemCode::parse(text), ItemCode::Other(_)));
        }
        assert_eq!(
            ItemCode::parse("brand_new_error"),
            ItemCode::Other("brand_new_error".into())
        );
        assert!(ItemCode::Internal.is_transient());
        assert!(!ItemCode::NotFoundTrack.is_transient());
    }

    #[test]
    fn a_partial_failure_says_how_many_and_why() {
        let mut batch: Batch<&str, ()> = Batch::new();
        batch.push_ok("a", ());
        batch.push_failed(ItemFailure {
            request: "b",
            code: ItemCode::Internal,
            description: Some("Backend error".into()),
        });
        assert!(!batch.is_complete());
        let error = batch.clone().into_result().unwrap_err();
        assert_eq!(
            error.to_string(),
            "1 of 2 items failed: internal_error (Backend error)"
        );
        assert_eq!(error.batch, batch);
    }
}
