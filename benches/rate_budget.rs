//! The rate budget against the fake with Cloudflare's kind of limit (a fixed window per token):
//! 120 GETs from 8 concurrent tasks, against 30 per 6 s. With the budget (one client shared by
//! the tasks, and two clients built apart from the same token) and without it (each request
//! retrying its own 429s, as before the budget existed). Real time: about a minute.
//!
//!     cargo bench --bench rate_budget --features fake

use std::time::{Duration, Instant};

use apps_api::cloudflare::{CloudflareClient, Credentials};
use apps_api::fake::{FakeConfig, FakeServer};
use apps_api::Quota;

const TASKS: usize = 8;
const REQUESTS: usize = 120;
const QUOTA: Quota = Quota::new(30, Duration::from_secs(6));

struct Outcome {
    took: Duration,
    ok: usize,
    failed: usize,
    refused: usize,
}

/// Runs the job on a fresh fake with `clients` clients (the tasks take them in turn).
async fn job(clients: usize, budget: bool) -> Outcome {
    let fake = FakeServer::start_with(FakeConfig::new().rate_limit(QUOTA))
        .await
        .unwrap();
    let clients: Vec<CloudflareClient> = (0..clients)
        .map(|_| {
            let builder = CloudflareClient::builder()
                .credentials(Credentials::ApiToken(fake.cloudflare_token().clone()))
                .base_url(fake.cloudflare_base_url());
            let builder = if budget {
                builder
            } else {
                builder.rate_budget(None)
            };
            builder.build().unwrap()
        })
        .collect();
    let account = fake.account_id();
    let start = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let client = clients[task % clients.len()].clone();
            let account = account.clone();
            tokio::spawn(async move {
                let mut results = Vec::new();
                for _ in 0..REQUESTS / TASKS {
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
    let took = start.elapsed();
    let refused = fake.requests().iter().filter(|r| r.status == 429).count();
    Outcome {
        took,
        ok,
        failed,
        refused,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // The job's least possible time: its windows after the first.
    let windows = REQUESTS.div_ceil(QUOTA.requests as usize);
    let minimum = QUOTA.window * (windows as u32 - 1);
    println!(
        "## {REQUESTS} GETs from {TASKS} tasks against the fake limited to {QUOTA} per token\n"
    );
    println!(
        "Least possible time: {windows} windows, {} s.\n",
        minimum.as_secs()
    );
    println!("| run | succeeded | failed | 429 answers | took | took / least |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, clients, budget) in [
        ("budget, one client", 1, true),
        ("budget, two clients built apart", 2, true),
        ("no budget (each request retries its 429s)", 1, false),
    ] {
        let outcome = job(clients, budget).await;
        println!(
            "| {name} | {} | {} | {} | {:.1} s | {:.3}× |",
            outcome.ok,
            outcome.failed,
            outcome.refused,
            outcome.took.as_secs_f64(),
            outcome.took.as_secs_f64() / minimum.as_secs_f64()
        );
    }
}
