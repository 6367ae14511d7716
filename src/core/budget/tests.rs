//! The budget's arithmetic on tokio's paused clock and its sharing; its header parsing in
//! `headers` (exact cases and a property test).

use std::time::Duration;

use tokio::time::Instant;

use super::*;

mod headers;
mod registry;

const SECOND: Duration = Duration::from_secs(1);
/// A longest block no test reaches.
const DAY: Duration = Duration::from_secs(86_400);

fn budget(requests: u32, window_secs: u64, explicit: bool) -> Arc<Budget> {
    Arc::new(Budget::new(Setting {
        quota: Quota::new(requests, Duration::from_secs(window_secs)),
        explicit,
    }))
}

fn report(remaining: u32, reset_secs: u64) -> Option<Reported> {
    Some(Reported {
        remaining: Some((remaining, Duration::from_secs(reset_secs))),
        policy: None,
    })
}

/// A window's places are taken one by one, in-flight ones included; when they are gone the
/// next one is at the window's end, and the new window starts with what is still in flight
/// counted.
#[tokio::test(start_paused = true)]
async fn places_run_out_and_come_back_with_the_window() {
    let budget = budget(3, 10, false);
    let start = Instant::now();
    let mut state = budget.lock();
    // Each request's number is the count of those before it.
    for number in 0..3 {
        assert_eq!(state.take(start), Ok(number));
    }
    assert_eq!(
        state.take(start).map_err(|n| n.until),
        Err(start + 10 * SECOND)
    );
    assert_eq!(
        state.take(start + 9 * SECOND).map_err(|n| n.until),
        Err(start + 10 * SECOND)
    );
    // Two answered, one still in flight at the reset.
    state.answered(start, 0, None, None);
    state.answered(start, 1, None, None);
    state.take(start + 10 * SECOND).unwrap();
    state.take(start + 10 * SECOND).unwrap();
    assert_eq!(
        state.take(start + 10 * SECOND).map_err(|n| n.until),
        Err(start + 20 * SECOND)
    );
    assert_eq!(state.in_flight, 3);
}

/// What the server reports, with the quota known (its policy): what is left is the least of
/// its `r` (which counts others sharing the credential) and the quota less what this window has
/// sent (which counts requests in flight, in whatever order the server takes them). The first
/// report of a window places its end; one about a window that has ended is ignored; one about
/// the next window starts it.
#[tokio::test(start_paused = true)]
async fn reports_correct_the_count() {
    let budget = budget(30, 6, false);
    let now = Instant::now();
    let mut state = budget.lock();
    state.quota_known = true;
    for _ in 0..4 {
        state.take(now).unwrap();
    }
    // Taken last by the server, first answered: 26 left, as counted here.
    state.answered(now, 3, None, report(26, 6));
    assert_eq!((state.remaining, state.in_flight), (26, 3));
    assert_eq!(state.window_ends, Some(now + 6 * SECOND + RESET_MARGIN));
    // Taken first by the server: its 29 does not count the three after it; the window's count
    // does.
    state.answered(now, 0, None, report(29, 6));
    assert_eq!(state.remaining, 26);
    // Someone else spends the credential too: the server's count wins.
    state.answered(now, 1, None, report(20, 6));
    assert_eq!((state.remaining, state.in_flight), (20, 1));
    // About the window before (its reset long past): ignored.
    state.take(now).unwrap();
    let later = now + 3 * SECOND;
    state.answered(later, 4, None, report(0, 0));
    assert_eq!(state.remaining, 19);
    // About the next window: it starts (what this one sent still counted against it, as the
    // server may have counted some in the next).
    state.take(later).unwrap();
    state.answered(later, 5, None, report(25, 5));
    assert_eq!(state.remaining, 24);
    assert_eq!(state.window_ends, Some(later + 5 * SECOND + RESET_MARGIN));
}

/// Without a known quota, every request in flight may be one a report does not count yet; and
/// the answer to a request of an earlier window speaks of that window, whatever it says.
#[tokio::test(start_paused = true)]
async fn without_a_known_quota_requests_in_flight_count_against_a_report() {
    let budget = budget(1200, 300, false);
    let now = Instant::now();
    let mut state = budget.lock();
    for _ in 0..4 {
        state.take(now).unwrap();
    }
    state.answered(now, 0, None, report(29, 6));
    assert_eq!((state.remaining, state.in_flight), (26, 3));
    // The window ends with two in flight; their answers come in the next.
    state.answered(now, 1, None, None);
    let next = now + 7 * SECOND;
    state.take(next).unwrap();
    assert_eq!(state.remaining, 1200 - 2 - 1);
    state.answered(next, 2, None, report(0, 1));
    assert_eq!(state.remaining, 1197, "an earlier window's report");
    state.answered(next, 4, None, report(28, 6));
    assert_eq!(state.remaining, 27);
}

/// The server's policy replaces the default quota, not one set by hand, which the server's
/// reports only lower.
#[tokio::test(start_paused = true)]
async fn a_quota_set_by_hand_stays_the_limit() {
    let now = Instant::now();
    let policy = Some(Reported {
        remaining: Some((1000, 300 * SECOND)),
        policy: Some(Quota::new(1200, 300 * SECOND)),
    });
    let default = budget(30, 6, false);
    let mut state = default.lock();
    state.take(now).unwrap();
    assert!(state.policy_wanted);
    state.answered(now, 0, None, policy);
    assert_eq!((state.quota.requests, state.remaining), (1200, 1000));
    // Read once a window: the next window's first answers read it again.
    assert!(!state.policy_wanted);
    state.take(now + 301 * SECOND).unwrap();
    assert!(state.policy_wanted);
    drop(state);

    let set = budget(30, 6, true);
    let mut state = set.lock();
    assert!(!state.policy_wanted, "a quota set by hand reads no policy");
    state.take(now).unwrap();
    state.take(now).unwrap();
    state.answered(now, 0, None, policy);
    assert_eq!((state.quota.requests, state.remaining), (30, 28));
    state.answered(now, 1, None, report(5, 200));
    assert_eq!(state.remaining, 5);
    assert_eq!(state.window_ends, Some(now + 6 * SECOND));
}

/// A block (a 429's wait, as the retry rules read it) stops every place until it is over,
/// however long it is: not cut to the window, which only bounds what reports say of windows.
/// Then a new window starts.
#[tokio::test(start_paused = true)]
async fn a_block_stops_the_whole_budget_for_all_of_it() {
    let now = Instant::now();
    for blocked in [7 * SECOND, 3600 * SECOND, DAY] {
        let budget = budget(5, 10, false);
        let mut state = budget.lock();
        state.take(now).unwrap();
        state.take(now).unwrap();
        state.answered(now, 0, Some(blocked), report(0, 3));
        let no_place = |until| {
            Err(NoPlace {
                until,
                blocked: true,
            })
        };
        assert_eq!(state.take(now), no_place(now + blocked));
        assert_eq!(state.take(now + blocked - SECOND), no_place(now + blocked));
        // The other request, answered during the block, does not end it.
        state.answered(now + SECOND, 1, None, None);
        assert_eq!(state.take(now + 2 * SECOND), no_place(now + blocked));
        state.take(now + blocked).unwrap();
        assert_eq!(state.remaining, 4, "{blocked:?}");
    }
}

/// What reports say of windows is bounded by the configured window: not a reset of a day, nor
/// a policy whose window is a day (a server that lies or is broken would otherwise pace every
/// request on the credential to one a day).
#[test]
fn reports_never_stretch_a_window_past_the_configured_one() {
    let now = Instant::now();
    let budget = budget(5, 10, false);
    let mut state = budget.lock();
    state.take(now).unwrap();
    let lying = Reported {
        remaining: Some((0, DAY)),
        policy: Some(Quota::new(1, DAY)),
    };
    state.answered(now, 0, None, Some(lying));
    assert_eq!(state.quota, Quota::new(1, 10 * SECOND));
    let resumes = now + 10 * SECOND + RESET_MARGIN;
    assert_eq!(state.take(now + SECOND).map_err(|n| n.until), Err(resumes));
    state.take(resumes).unwrap();
}

/// Reports of one window each bound its end (`t` is rounded up): the earliest is kept, so
/// requests answered later in the window, or more slowly, do not push it back.
#[test]
fn the_earliest_reported_end_of_a_window_is_kept() {
    let now = Instant::now();
    let budget = budget(30, 6, false);
    let mut state = budget.lock();
    for _ in 0..3 {
        state.take(now).unwrap();
    }
    state.answered(now, 0, None, report(29, 6));
    assert_eq!(state.window_ends, Some(now + 6 * SECOND + RESET_MARGIN));
    // Answered 700 ms later, rounded up to the same 6 s: later, so not closer.
    let later = now + Duration::from_millis(700);
    state.answered(later, 1, None, report(28, 6));
    assert_eq!(state.window_ends, Some(now + 6 * SECOND + RESET_MARGIN));
    // Answered 900 ms later saying 5 s: the window ends 100 ms sooner than thought.
    let last = now + Duration::from_millis(900);
    state.answered(last, 2, None, report(27, 5));
    assert_eq!(state.window_ends, Some(last + 5 * SECOND + RESET_MARGIN));
}

/// `acquire` waits for the window's end on tokio's clock; a wait past the deadline is refused
/// at once with its length; a permit dropped without an answer stays spent once its request
/// was on its way, and goes back before.
#[tokio::test(start_paused = true)]
async fn acquire_waits_or_refuses() {
    let budget = budget(2, 10, false);
    let span = tracing::Span::none();
    let start = Instant::now();
    let far = start + 60 * SECOND;
    drop(budget.acquire(far, DAY, &span).await.unwrap());
    assert_eq!(budget.snapshot().remaining, 2, "never sent: given back");
    let mut first = budget.acquire(far, DAY, &span).await.unwrap();
    first.sending();
    let second = budget.acquire(far, DAY, &span).await.unwrap();
    drop(first);
    second.answered(None, None);
    assert_eq!(budget.snapshot().remaining, 0);
    let refused = budget
        .acquire(start + 9 * SECOND, DAY, &span)
        .await
        .unwrap_err();
    assert_eq!(refused, 10 * SECOND);
    // A place that comes at the deadline, with no time left for the try, is none.
    let refused = budget
        .acquire(start + 10 * SECOND, DAY, &span)
        .await
        .unwrap_err();
    assert_eq!(refused, 10 * SECOND);
    assert_eq!(start.elapsed(), Duration::ZERO, "refused at once");
    let mut third = budget.acquire(far, DAY, &span).await.unwrap();
    assert_eq!(start.elapsed(), 10 * SECOND);
    third.sending();
    drop(third);
    let snapshot = budget.snapshot();
    assert_eq!((snapshot.remaining, snapshot.in_flight), (1, 0));
    assert_eq!(snapshot.resets_in, Some(10 * SECOND));
}

/// A report of more room than was counted wakes the waiting requests before the window ends.
#[tokio::test(start_paused = true)]
async fn room_reported_wakes_the_waiting() {
    let budget = budget(1, 100, false);
    let span = tracing::Span::none();
    let start = Instant::now();
    let far = start + 1000 * SECOND;
    let permit = budget.acquire(far, DAY, &span).await.unwrap();
    let waiting = tokio::spawn({
        let budget = budget.clone();
        async move {
            budget
                .acquire(far, DAY, &tracing::Span::none())
                .await
                .map(drop)
        }
    });
    tokio::time::sleep(SECOND).await;
    assert!(!waiting.is_finished());
    // The server's first report: a window of 50 left.
    permit.answered(None, report(50, 100));
    waiting.await.unwrap().unwrap();
    assert_eq!(start.elapsed(), SECOND);
}

/// A report that the window ends sooner than estimated wakes the waiting requests for the new
/// end, instead of leaving them asleep until the old one.
#[tokio::test(start_paused = true)]
async fn a_sooner_reset_wakes_the_waiting() {
    let budget = budget(1, 300, false);
    let span = tracing::Span::none();
    let start = Instant::now();
    let far = start + 1000 * SECOND;
    let permit = budget.acquire(far, DAY, &span).await.unwrap();
    let waiting = tokio::spawn({
        let budget = budget.clone();
        async move {
            budget
                .acquire(far, DAY, &tracing::Span::none())
                .await
                .map(drop)
        }
    });
    tokio::time::sleep(SECOND).await;
    // No room left, but the window ends in 5 s, not in the 299 s estimated.
    permit.answered(None, report(0, 5));
    waiting.await.unwrap().unwrap();
    assert_eq!(start.elapsed(), 6 * SECOND + RESET_MARGIN);
}

/// A block no longer than the longest a request waits for one is waited out; a longer one is
/// refused at once with what is left of it (a request does not wait for another's 429 longer
/// than for its own).
#[tokio::test(start_paused = true)]
async fn a_block_longer_than_the_request_waits_is_refused_at_once() {
    let budget = budget(5, 10, false);
    let span = tracing::Span::none();
    let start = Instant::now();
    let far = start + DAY;
    let permit = budget.acquire(far, DAY, &span).await.unwrap();
    permit.answered(Some(90 * SECOND), None);
    let refused = budget.acquire(far, 60 * SECOND, &span).await.unwrap_err();
    assert_eq!(refused, 90 * SECOND);
    assert_eq!(start.elapsed(), Duration::ZERO, "refused at once");
    tokio::time::sleep(31 * SECOND).await;
    // 59 s left: within the minute, waited out.
    budget.acquire(far, 60 * SECOND, &span).await.unwrap();
    assert_eq!(start.elapsed(), 90 * SECOND);
}

/// A place never used (the request was refused elsewhere) is given back to its window.
#[tokio::test(start_paused = true)]
async fn an_unused_place_is_given_back() {
    let budget = budget(2, 10, false);
    let span = tracing::Span::none();
    let far = Instant::now() + DAY;
    let first = budget.acquire(far, DAY, &span).await.unwrap();
    assert_eq!(budget.snapshot().remaining, 1);
    first.unused();
    let snapshot = budget.snapshot();
    assert_eq!((snapshot.remaining, snapshot.in_flight), (2, 0));
}

/// The edges of a wait: a place that comes exactly a try's worth of time before the deadline
/// is waited for, and so is a block exactly as long as the longest a request waits for one;
/// the moment a block ends, it is over.
#[tokio::test(start_paused = true)]
async fn the_edges_of_a_wait_are_waited_for() {
    let span = tracing::Span::none();
    let start = Instant::now();
    let one = budget(1, 10, false);
    let spent = one.acquire(start + DAY, DAY, &span).await.unwrap();
    spent.answered(None, None);
    one.acquire(start + 10 * SECOND + LEAST_TRY, DAY, &span)
        .await
        .unwrap();
    assert_eq!(start.elapsed(), 10 * SECOND);

    let blocked = budget(5, 10, false);
    let start = Instant::now();
    let permit = blocked.acquire(start + DAY, DAY, &span).await.unwrap();
    permit.answered(Some(60 * SECOND), None);
    tokio::time::sleep(60 * SECOND).await;
    assert_eq!(blocked.snapshot().blocked_for, None, "over at its end");
    let again = budget(5, 10, false);
    let permit = again.acquire(start + DAY, DAY, &span).await.unwrap();
    permit.answered(Some(60 * SECOND), None);
    again
        .acquire(start + DAY * 2, 60 * SECOND, &span)
        .await
        .unwrap();
}

/// A block too long for the clock blocks for as far as it goes: a century, not less.
#[tokio::test(start_paused = true)]
async fn a_block_too_long_for_the_clock_is_a_century() {
    let budget = budget(5, 10, false);
    let span = tracing::Span::none();
    let permit = budget
        .acquire(Instant::now() + DAY, DAY, &span)
        .await
        .unwrap();
    permit.answered(Some(Duration::MAX), None);
    let blocked = budget.snapshot().blocked_for.unwrap();
    assert_eq!(blocked, Duration::from_secs(100 * 365 * 24 * 60 * 60));
}

/// A caller that gives up while the credential's budget keeps it waiting has sent nothing: its
/// place in its client's own budget goes back. A place of a request on its way stays spent.
#[tokio::test(start_paused = true)]
async fn a_place_given_up_before_sending_goes_back() {
    let own = Budget::own(Quota::new(2, 10 * SECOND));
    let shared = budget(1, 10, false);
    let budgets = Budgets::new_for_tests(Some(shared.clone()), Some(own.clone()));
    let span = tracing::Span::none();
    let far = Instant::now() + DAY;
    let mut first = budgets.acquire(far, DAY, &span).await.unwrap();
    first.sending();
    let waiting = tokio::time::timeout(SECOND, budgets.acquire(far, DAY, &span)).await;
    assert!(waiting.is_err(), "the shared budget has no room for 10 s");
    assert_eq!(
        own.snapshot().remaining,
        1,
        "only the first request's place"
    );
    drop(first);
    assert_eq!(own.snapshot().remaining, 1, "sent: it stays spent");
    // Refused by the shared budget: given back too.
    let refused = budgets.acquire(Instant::now() + SECOND, DAY, &span).await;
    assert!(refused.is_err());
    assert_eq!(own.snapshot().remaining, 1);
    // Nothing reached the server: both places go back.
    tokio::time::sleep(10 * SECOND).await;
    let mut unreached = budgets.acquire(far, DAY, &span).await.unwrap();
    unreached.sending();
    unreached.unsent();
    assert_eq!(
        (own.snapshot().remaining, shared.snapshot().remaining),
        (2, 1)
    );
}

/// The client's own budget keeps its own count and window: the credential's reports (what
/// others spent, when the credential's window resets) are the credential's budget's.
#[tokio::test(start_paused = true)]
async fn a_clients_own_budget_reads_no_reports() {
    let own = Budget::own(Quota::new(600, 300 * SECOND));
    let shared = budget(1200, 300, false);
    let budgets = Budgets::new_for_tests(Some(shared.clone()), Some(own.clone()));
    let span = tracing::Span::none();
    let mut places = budgets
        .acquire(Instant::now() + DAY, DAY, &span)
        .await
        .unwrap();
    places.sending();
    places.answered(None, report(0, 3));
    assert_eq!(own.snapshot().remaining, 599);
    assert_eq!(shared.snapshot().remaining, 0);
    assert_eq!(shared.snapshot().resets_in, Some(3 * SECOND + RESET_MARGIN));
}

/// A 429 in a window the budget opened at the server's reported reset says `t` was rounded
/// down: from then on, a second more is kept after every reported reset.
#[tokio::test(start_paused = true)]
async fn a_reset_that_proved_early_widens_the_margin() {
    let now = Instant::now();
    let refused = budget(2, 10, false);
    let mut state = refused.lock();
    state.take(now).unwrap();
    state.answered(now, 0, None, report(0, 4));
    let end = now + 4 * SECOND + RESET_MARGIN;
    assert_eq!(state.window_ends, Some(end));
    // Opened at that end, refused: the report was early.
    state.take(end).unwrap();
    state.answered(end, 1, Some(SECOND), None);
    let later = end + 2 * SECOND;
    state.take(later).unwrap();
    state.answered(later, 2, None, report(0, 4));
    assert_eq!(
        state.window_ends,
        Some(later + 4 * SECOND + SAME_WINDOW + RESET_MARGIN)
    );
    // A 429 in a window the budget opened on its own estimate says nothing of `t`.
    let fresh = budget(2, 10, false);
    let mut state = fresh.lock();
    state.take(now).unwrap();
    state.answered(now, 0, Some(SECOND), None);
    assert_eq!(state.margin, RESET_MARGIN);
}

/// A request waiting for a window's end is woken by a block it will not wait out, and fails
/// then, not at the window's end.
#[tokio::test(start_paused = true)]
async fn a_block_wakes_the_waiting_to_fail_fast() {
    let budget = budget(1, 300, false);
    let span = tracing::Span::none();
    let start = Instant::now();
    let far = start + DAY;
    let mut permit = budget.acquire(far, DAY, &span).await.unwrap();
    permit.sending();
    let waiting = tokio::spawn({
        let budget = budget.clone();
        async move {
            budget
                .acquire(far, 60 * SECOND, &tracing::Span::none())
                .await
                .map(drop)
        }
    });
    tokio::time::sleep(SECOND).await;
    permit.answered(Some(3600 * SECOND), None);
    let refused = waiting.await.unwrap().unwrap_err();
    assert_eq!(refused, 3600 * SECOND);
    assert_eq!(start.elapsed(), SECOND);
}

/// A place given back belongs to the window it was taken from: a place of an ended window, or
/// one taken before a block, adds no room to the window after.
#[test]
fn an_unused_place_of_another_window_adds_no_room() {
    let now = Instant::now();
    let earlier = budget(3, 10, false);
    let mut state = earlier.lock();
    let old = state.take(now).unwrap();
    let later = now + 11 * SECOND;
    state.take(later).unwrap();
    assert_eq!(state.remaining, 1);
    state.unused(old);
    assert_eq!((state.remaining, state.in_flight), (1, 1));

    let blocked = budget(2, 10, false);
    let mut state = blocked.lock();
    let first = state.take(now).unwrap();
    let second = state.take(now).unwrap();
    state.answered(now, second, Some(SECOND), None);
    state.unused(first);
    assert_eq!((state.remaining, state.in_flight), (0, 0));
}

/// A report whose window ends exactly [`SAME_WINDOW`] before the one kept still speaks of it:
/// its end is kept. One ending earlier than that speaks of a window already over.
#[test]
fn a_report_a_second_early_is_the_same_window() {
    let now = Instant::now();
    let kept = budget(5, 10, false);
    let mut state = kept.lock();
    state.take(now).unwrap();
    state.answered(now, 0, None, report(3, 6));
    let end = now + 6 * SECOND + RESET_MARGIN;
    assert_eq!(state.window_ends, Some(end));
    state.take(now).unwrap();
    state.answered(now, 1, None, report(2, 5));
    assert_eq!(
        state.window_ends,
        Some(end - SAME_WINDOW),
        "the same window"
    );
    state.take(now).unwrap();
    state.answered(now, 2, None, report(4, 3));
    assert_eq!(
        (state.window_ends, state.remaining),
        (Some(end - SAME_WINDOW), 1),
        "a window already over"
    );
}
