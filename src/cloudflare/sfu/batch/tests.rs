//! Batch accounting: every request item answered once, whatever the order or the server says.

use super::*;
use proptest::prelude::*;

proptest! {
    #![proptest_config(crate::core::proptest_config())]

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
    #![proptest_config(crate::core::proptest_config())]

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
