//! The rate budget against servers with Cloudflare's kind of limit (a fixed window per token):
//! 120 GETs from 8 concurrent tasks, against 30 per 6 s. On the fake (windows follow each other
//! from the first request), with the budget (one client shared by the tasks, and two clients
//! built apart from the same token) and without it (each request retrying its own 429s); then
//! on two other servers keeping the same quota their own way: windows that start at the first
//! request after the last one ended, and windows on a fixed phase of the server's clock that
//! began before the job. Every server sends `Ratelimit` (`t` rounded up) and
//! `Ratelimit-Policy`. Real time: about two minutes.
//!
//!     cargo bench --bench rate_budget --features fake
//!
//! Run without `--bench` (`cargo test --benches`, as CI does), it is a smoke run: 64 GETs against
//! 30 per second, every job checked to succeed.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use apps_api::cloudflare::{CloudflareClient, Credentials};
use apps_api::fake::{FakeConfig, FakeServer};
use apps_api::Quota;
use axum::http::{HeaderMap, HeaderValue, StatusCode};

const TASKS: usize = 8;
/// A smoke run (no `--bench`): fewer requests, a shorter window.
static SMOKE: std::sync::LazyLock<bool> =
    std::sync::LazyLock::new(|| !std::env::args().any(|a| a == "--bench"));

/// The GETs of a job.
fn requests() -> usize {
    if *SMOKE {
        64
    } else {
        120
    }
}

/// The servers' limit per token.
fn quota() -> Quota {
    let window = if *SMOKE { 1 } else { 6 };
    Quota::new(30, Duration::from_secs(window))
}
const TOKEN: &str = "bench-token-0123456789abcdef";
const ACCOUNT: &str = apps_api::fake::DEFAULT_ACCOUNT_ID;

/// How another server keeps its windows.
#[derive(Clone, Copy)]
enum Windows {
    /// A window starts with the first request after the last one ended.
    Restarting,
    /// Windows follow each other from the server's start, `ahead` before the job's.
    Phased { ahead: Duration },
}

/// A server keeping `quota()` as `windows` says; its base URL, how many it refused, and when its
/// windows began.
async fn other_server(windows: Windows) -> (String, Arc<Mutex<usize>>, Instant) {
    let epoch = Instant::now()
        - match windows {
            Windows::Phased { ahead } => ahead,
            Windows::Restarting => Duration::ZERO,
        };
    let state = Arc::new(Mutex::new((epoch, 0u32)));
    let refused = Arc::new(Mutex::new(0usize));
    let seen = refused.clone();
    let ceil = |d: Duration| d.as_secs() + u64::from(d.subsec_nanos() > 0);
    let handler = move || {
        let state = state.clone();
        let refused = seen.clone();
        async move {
            let now = Instant::now();
            let (status, remaining, reset) = {
                let mut window = state.lock().unwrap();
                if now >= window.0 + quota().window {
                    match windows {
                        Windows::Restarting => window.0 = now,
                        Windows::Phased { .. } => {
                            while now >= window.0 + quota().window {
                                window.0 += quota().window;
                            }
                        }
                    }
                    window.1 = 0;
                }
                let reset = window.0 + quota().window - now;
                if window.1 >= quota().requests {
                    *refused.lock().unwrap() += 1;
                    (StatusCode::TOO_MANY_REQUESTS, 0, reset)
                } else {
                    window.1 += 1;
                    (StatusCode::OK, quota().requests - window.1, reset)
                }
            };
            let mut headers = HeaderMap::new();
            let value = |text: String| HeaderValue::from_str(&text).unwrap();
            headers.insert(
                "ratelimit",
                value(format!("\"default\";r={remaining};t={}", ceil(reset))),
            );
            headers.insert(
                "ratelimit-policy",
                value(format!(
                    "\"default\";q={};w={}",
                    quota().requests,
                    quota().window.as_secs()
                )),
            );
            headers.insert("content-type", value("application/json".into()));
            let body = if status == StatusCode::OK {
                r#"{"success":true,"errors":[],"messages":[],"result":[]}"#
            } else {
                headers.insert("retry-after", value(ceil(reset).to_string()));
                r#"{"success":false,"errors":[{"code":971,"message":"Please wait"}],"messages":[],"result":null}"#
            };
            (status, headers, body)
        }
    };
    let app = axum::Router::new().route(
        &format!("/client/v4/accounts/{ACCOUNT}/calls/apps"),
        axum::routing::get(handler),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/client/v4", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, refused, epoch)
}

struct Outcome {
    took: Duration,
    ok: usize,
    failed: usize,
    refused: usize,
}

/// Runs the job on a fresh fake with `clients` clients (the tasks take them in turn).
async fn job(clients: usize, budget: bool) -> Outcome {
    let fake = FakeServer::start_with(FakeConfig::new().rate_limit(quota()))
        .await
        .unwrap();
    let outcome = run(
        &fake.cloudflare_base_url(),
        fake.cloudflare_token().expose(),
        fake.account_id().as_str(),
        clients,
        budget,
    )
    .await;
    let refused = fake.requests().iter().filter(|r| r.status == 429).count();
    Outcome { refused, ..outcome }
}

/// The job against `base_url`, with `clients` clients sharing the tasks.
async fn run(base_url: &str, token: &str, account: &str, clients: usize, budget: bool) -> Outcome {
    let clients: Vec<CloudflareClient> = (0..clients)
        .map(|_| {
            let builder = CloudflareClient::builder()
                .credentials(Credentials::api_token(token))
                .base_url(base_url);
            let builder = if budget {
                builder
            } else {
                builder.rate_budget(None)
            };
            builder.build().unwrap()
        })
        .collect();
    let start = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let client = clients[task % clients.len()].clone();
            let account = account.to_string();
            tokio::spawn(async move {
                let mut results = Vec::new();
                for _ in 0..requests() / TASKS {
                    results.push(client.calls(account.clone()).list().await.is_ok());
                }
                results
            })
        })
        .collect();
    let mut ok = 0;
    let mut failed = 0;
    for task in tasks {
        for result in task.await.unwrap() {
            if result {
                ok += 1;
            } else {
                failed += 1;
            }
        }
    }
    Outcome {
        took: start.elapsed(),
        ok,
        failed,
        refused: 0,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // The job's least possible time: its windows after the first.
    let windows = requests().div_ceil(quota().requests as usize);
    let minimum = quota().window * (windows as u32 - 1);
    println!(
        "## {} GETs from {TASKS} tasks against servers limited to {} per token\n",
        requests(),
        quota()
    );
    println!(
        "Least possible time when the job starts a window: {windows} windows, {} s.\n",
        minimum.as_secs()
    );
    println!("| server | run | succeeded | failed | 429 answers | took | least | took / least |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    let row = |server: &str, name: &str, outcome: &Outcome, least: Duration| {
        println!(
            "| {server} | {name} | {} | {} | {} | {:.2} s | {:.2} s | {:.3}× |",
            outcome.ok,
            outcome.failed,
            outcome.refused,
            outcome.took.as_secs_f64(),
            least.as_secs_f64(),
            outcome.took.as_secs_f64() / least.as_secs_f64()
        );
        // Every request of a job with the budget succeeds, and none is refused.
        if name.starts_with("budget") {
            assert_eq!(
                (outcome.ok, outcome.failed),
                (requests(), 0),
                "{server}, {name}"
            );
            assert_eq!(outcome.refused, 0, "{server}, {name}: 429s");
        }
    };
    for (name, clients, budget) in [
        ("budget, one client", 1, true),
        ("budget, two clients built apart", 2, true),
        ("no budget (each request retries its 429s)", 1, false),
    ] {
        row("the fake", name, &job(clients, budget).await, minimum);
    }
    for (server, windows) in [
        (
            "windows restarting at the first request after one ends",
            Windows::Restarting,
        ),
        (
            "windows on the server's clock, the first 2.4 s old at the start",
            Windows::Phased {
                ahead: Duration::from_millis(2400),
            },
        ),
    ] {
        let (url, refused, epoch) = other_server(windows).await;
        // The least time: to the end of the window the job starts in, then whole windows.
        let begun = Instant::now();
        let least = match windows {
            Windows::Restarting => minimum,
            Windows::Phased { .. } => {
                (epoch + quota().window - begun) + quota().window * (windows_needed() - 2)
            }
        };
        let outcome = run(&url, TOKEN, ACCOUNT, 1, true).await;
        let refused = *refused.lock().unwrap();
        row(
            server,
            "budget, one client",
            &Outcome { refused, ..outcome },
            least,
        );
    }
}

/// How many windows the job needs.
fn windows_needed() -> u32 {
    requests().div_ceil(quota().requests as usize) as u32
}
