//! The registry: one budget per credential and URL, kept while it matters, swept when it no
//! longer does.

use super::{report, DAY, SECOND};
use crate::core::budget::*;
use tokio::time::Instant;

/// The registry gives one budget per credential and URL; another URL or credential has its
/// own; a budget nobody holds is kept while its window or block lasts (a client made per
/// request is paced like one that lives), and forgotten once spent.
#[tokio::test(start_paused = true)]
async fn the_registry_keeps_a_budget_while_it_matters() {
    let registry = Registry::default();
    let setting = Setting {
        quota: Quota::new(2, 10 * SECOND),
        explicit: false,
    };
    let token = fingerprint(["shared-token-for-this-test"]);
    let a = registry.budget("https://a.example/v4", token, setting);
    let b = registry.budget("https://a.example/v4", token, setting);
    assert!(Arc::ptr_eq(&a, &b));
    let other_url = registry.budget("https://b.example/v4", token, setting);
    let other_key = registry.budget("https://a.example/v4", fingerprint(["another"]), setting);
    assert!(!Arc::ptr_eq(&a, &other_url) && !Arc::ptr_eq(&a, &other_key));
    // Email and key are one credential, not two that concatenate alike.
    assert_ne!(fingerprint(["ab", "c"]), fingerprint(["a", "bc"]));
    let span = tracing::Span::none();
    let far = Instant::now() + DAY;
    a.acquire(far, DAY, &span)
        .await
        .unwrap()
        .answered(None, None);
    drop((a, b, other_url, other_key));
    // Nobody holds it, its window runs: the next lookup finds it, one place spent.
    let again = registry.budget("https://a.example/v4", token, setting);
    assert_eq!(again.snapshot().remaining, 1);
    drop(again);
    // Many lookups of others, so sweeps run: it is not spent, it stays.
    for n in 0..200u64 {
        drop(registry.budget("https://d.example/v4", n, setting));
    }
    let again = registry.budget("https://a.example/v4", token, setting);
    assert_eq!(again.snapshot().remaining, 1, "kept through the sweeps");
    drop(again);
    // Past the window, with many lookups since: swept, memory bounded by what is in use.
    tokio::time::sleep(11 * SECOND).await;
    for n in 0..200u64 {
        drop(registry.budget("https://c.example/v4", n, setting));
    }
    assert!(registry.len() < 200, "{} kept", registry.len());
    let fresh = registry.budget("https://a.example/v4", token, setting);
    assert_eq!(fresh.snapshot().resets_in, None, "a new budget");
    // Held, it stays the credential's one budget however spent.
    for n in 0..200u64 {
        drop(registry.budget("https://e.example/v4", n, setting));
    }
    let again = registry.budget("https://a.example/v4", token, setting);
    assert!(Arc::ptr_eq(&fresh, &again), "one budget for one credential");
}

/// A block outlives a window a late report ended: the budget is kept through sweeps until
/// the block is over, so a client built again still waits.
#[tokio::test(start_paused = true)]
async fn a_block_is_kept_past_a_window_a_report_ended() {
    let registry = Registry::default();
    let setting = Setting {
        quota: Quota::new(5, 10 * SECOND),
        explicit: false,
    };
    let budget = registry.budget("https://a.example/v4", 1, setting);
    let span = tracing::Span::none();
    let far = Instant::now() + DAY;
    let (refused, late) = (
        budget.acquire(far, DAY, &span).await.unwrap(),
        budget.acquire(far, DAY, &span).await.unwrap(),
    );
    refused.answered(Some(60 * SECOND), None);
    late.answered(None, report(3, 1));
    drop(budget);
    tokio::time::sleep(5 * SECOND).await;
    for n in 0..200u64 {
        drop(registry.budget("https://c.example/v4", n + 2, setting));
    }
    let again = registry.budget("https://a.example/v4", 1, setting);
    assert_eq!(again.snapshot().blocked_for, Some(55 * SECOND));
}
