//! The shared TURN credential cache over a day, on tokio's paused clock with the credentials
//! minted in process: 10,000 callers asking for ICE servers every 2 to 12 minutes for 24 hours,
//! with a 1-hour TTL. How many mints it costs (goal: 30 ± 1, one per 48 minutes), the least
//! life a handed-out credential had left (goal: 20 % or more), and how many mints any caller
//! waited on (goal: at most one).
//!
//!     cargo bench --bench turn_cache --features test-util
//!
//! Run without `--bench` (`cargo test --benches`, as CI does), it is a smoke run with 100
//! callers. Either way it fails when a goal is missed.

use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apps_api::cloudflare::turn::{IceServerCache, TurnCredentials};
use apps_api::test_util::{json_response, Responder};
use tokio::time::Instant;

/// Callers in a bench run and in a smoke run.
const CALLERS: u64 = 10_000;
const SMOKE_CALLERS: u64 = 100;
const HOUR: Duration = Duration::from_secs(3600);

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    let callers = if std::env::args().any(|a| a == "--bench") {
        CALLERS
    } else {
        SMOKE_CALLERS
    };
    let mints = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let counted = mints.clone();
    let responder = Responder::new(move |_| {
        let n = counted.fetch_add(1, SeqCst);
        let at = start.elapsed().as_millis();
        json_response(
            200,
            format!(
                r#"{{"iceServers": [{{"urls": ["turn:turn.cloudflare.com:3478?transport=udp"],
                "username": "u{n}at{at}", "credential": "c{n}"}}]}}"#
            ),
        )
    });
    let turn = TurnCredentials::builder("2a95132c15732412d22c1476fa83f27a", "key")
        .responder(responder)
        .build()
        .unwrap();
    let cache = IceServerCache::new(turn, HOUR).unwrap();
    // (least life left, most mints waited on, longest wait, asks)
    let seen = Arc::new(Mutex::new((HOUR, 0u64, Duration::ZERO, 0u64)));
    let day = start + 24 * HOUR;
    let wall = std::time::Instant::now();
    let callers: Vec<_> = (0..callers)
        .map(|caller| {
            let (cache, mints, seen) = (cache.clone(), mints.clone(), seen.clone());
            tokio::spawn(async move {
                let mut step = caller.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                while Instant::now() < day {
                    let before = (Instant::now(), mints.load(SeqCst));
                    let ice = cache.ice_servers().await.unwrap();
                    let after = (Instant::now(), mints.load(SeqCst));
                    let username = ice.username().unwrap();
                    let minted: u64 = username
                        .as_str()
                        .split("at")
                        .nth(1)
                        .unwrap()
                        .parse()
                        .unwrap();
                    let left = (start + Duration::from_millis(minted) + HOUR) - after.0;
                    {
                        let mut seen = seen.lock().unwrap();
                        seen.0 = seen.0.min(left);
                        if after.0 > before.0 || after.1 > before.1 {
                            seen.1 = seen.1.max(after.1 - before.1);
                        }
                        seen.2 = seen.2.max(after.0 - before.0);
                        seen.3 += 1;
                    }
                    step = step
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    tokio::time::sleep(Duration::from_secs(120 + (step >> 33) % 600)).await;
                }
            })
        })
        .collect();
    let count = callers.len();
    for caller in callers {
        caller.await.unwrap();
    }
    let (least_left, waited_on, longest_wait, asks) = *seen.lock().unwrap();
    println!("## {count} callers over 24 hours, 1-hour TTL (paused clock)\n");
    println!("| asks | mints | least life left handed out | most mints a caller waited on | longest wait |");
    println!("|---:|---:|---:|---:|---:|");
    println!(
        "| {asks} | {} | {:.1} % | {waited_on} | {:?} |",
        mints.load(SeqCst),
        least_left.as_secs_f64() / HOUR.as_secs_f64() * 100.0,
        longest_wait
    );
    println!(
        "\n(ran in {:.1} s of real time)",
        wall.elapsed().as_secs_f64()
    );
    let minted = mints.load(SeqCst);
    assert!((29..=31).contains(&minted), "{minted} mints, goal 30 ± 1");
    assert!(
        least_left >= HOUR / 5,
        "a credential with {least_left:?} left"
    );
    assert!(waited_on <= 1, "a caller waited on {waited_on} mints");
}
