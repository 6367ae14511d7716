//! Memory of the standalone fake (`apps-api fake`) under the floods that once made it grow:
//! resident set after each, and the peak while it ran (VmHWM, reset before each phase).
//!
//! `cargo bench --bench fake_memory --features fake` (Linux: reads `/proc/PID/status`).
//!
//! Run without `--bench` (`cargo test --benches`, as CI does), it is a smoke run: each flood a
//! tenth as long.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

const ACCOUNT: &str = apps_api::fake::DEFAULT_ACCOUNT_ID;
const TOKEN: &str = "bench-token-0123456789";

fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Resets the peak resident set (Linux 4.0 and later).
fn reset_peak(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

fn report(pid: u32, phase: &str, started: Instant) {
    println!(
        "{phase:<72} RSS {:>6.1} MB   peak {:>6.1} MB   ({:.1} s)",
        status_kib(pid, "VmRSS:") as f64 / 1024.0,
        status_kib(pid, "VmHWM:") as f64 / 1024.0,
        started.elapsed().as_secs_f64()
    );
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .tls_backend_preconfigured(
            rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth(),
        )
        .build()
        .unwrap()
}

/// A Magic app body of about `bytes` bytes: 1 KiB of name, the rest hostnames.
fn magic_app(i: usize, bytes: usize) -> serde_json::Value {
    let hostnames: Vec<String> = (0..bytes.saturating_sub(1100) / 64)
        .map(|h| format!("host-{h:04}-of-app-{i:05}.{}.example.com", "x".repeat(20)))
        .collect();
    serde_json::json!({
        "name": format!("{i}-{}", "n".repeat(1000)),
        "type": "Development",
        "hostnames": hostnames,
    })
}

async fn flood(
    client: &reqwest::Client,
    requests: Vec<reqwest::RequestBuilder>,
    in_flight: usize,
) -> Vec<u16> {
    use futures_util::StreamExt;
    let _ = client;
    futures_util::stream::iter(requests)
        .map(|r| async move { r.send().await.map(|a| a.status().as_u16()).unwrap_or(0) })
        .buffer_unordered(in_flight)
        .collect()
        .await
}

fn count(statuses: &[u16]) -> String {
    let mut counts = std::collections::BTreeMap::new();
    for s in statuses {
        *counts.entry(*s).or_insert(0) += 1;
    }
    counts
        .iter()
        .map(|(s, n)| format!("{n}×{s}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::main]
async fn main() {
    // A smoke run sends a tenth of each flood.
    let scale = if std::env::args().any(|a| a == "--bench") {
        1
    } else {
        10
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_apps-api"))
        .args(["fake", "--port", "0", "--cloudflare-token", TOKEN])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("apps-api is built with the fake");
    let pid = child.id();
    let mut banner = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let base = loop {
        line.clear();
        if banner.read_line(&mut line).unwrap() == 0 {
            panic!("the fake printed no base URL");
        }
        if let Some(url) = line.trim().strip_prefix("Fake Cloudflare API: ") {
            break url.trim_end_matches("/client/v4").to_string();
        }
    };
    let client = http();
    let started = Instant::now();
    report(pid, "started", started);

    // 1. 1,000 unauthenticated POSTs of a 16 KiB JSON array (refused, but logged).
    reset_peak(pid);
    let body = serde_json::to_vec(&vec!["x".repeat(14); 950]).unwrap();
    assert!(body.len() > 16_000 && body.len() <= 16 * 1024);
    let requests = (0..1_000 / scale)
        .map(|_| {
            client
                .post(format!("{base}/client/v4/accounts/{ACCOUNT}/magic/apps"))
                .header("content-type", "application/json")
                .body(body.clone())
        })
        .collect();
    let statuses = flood(&client, requests, 8).await;
    report(
        pid,
        &format!(
            "{} unauthenticated 16 KiB POSTs ({})",
            1_000 / scale,
            count(&statuses)
        ),
        started,
    );

    // 2. Four clients reading the request log at once.
    reset_peak(pid);
    let reads = (0..4)
        .map(|_| client.get(format!("{base}/__fake/requests")))
        .collect();
    let statuses = flood(&client, reads, 4).await;
    report(
        pid,
        &format!("4 concurrent GET /__fake/requests ({})", count(&statuses)),
        started,
    );

    // 3. 2,000 Magic creates of 15.6 KiB each, then of 7.5 KiB each (the fake keeps at most
    //    8 KiB per item and 8 MiB in all).
    for size in [15_600, 7_500] {
        reset_peak(pid);
        let requests = (0..2_000 / scale)
            .map(|i| {
                client
                    .post(format!("{base}/client/v4/accounts/{ACCOUNT}/magic/apps"))
                    .bearer_auth(TOKEN)
                    .json(&magic_app(i, size))
            })
            .collect();
        let statuses = flood(&client, requests, 8).await;
        report(
            pid,
            &format!(
                "{} Magic creates of {:.1} KiB ({})",
                2_000 / scale,
                size as f64 / 1024.0,
                count(&statuses)
            ),
            started,
        );
    }

    // 4. Three state reads and a Magic list at once, then four log reads at once.
    reset_peak(pid);
    let mut reads: Vec<_> = (0..3)
        .map(|_| client.get(format!("{base}/__fake/state")))
        .collect();
    reads.push(
        client
            .get(format!("{base}/client/v4/accounts/{ACCOUNT}/magic/apps"))
            .bearer_auth(TOKEN),
    );
    let statuses = flood(&client, reads, 4).await;
    report(
        pid,
        &format!(
            "3 GET /__fake/state and a Magic list at once ({})",
            count(&statuses)
        ),
        started,
    );
    let size = client
        .get(format!("{base}/client/v4/accounts/{ACCOUNT}/magic/apps"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .len();
    println!("  (the Magic list answer is {:.1} MB)", size as f64 / 1e6);
    reset_peak(pid);
    let reads = (0..4)
        .map(|_| client.get(format!("{base}/__fake/requests")))
        .collect();
    let statuses = flood(&client, reads, 4).await;
    report(
        pid,
        &format!(
            "4 concurrent GET /__fake/requests, log full ({})",
            count(&statuses)
        ),
        started,
    );
    let _ = child.kill();
    let _ = child.wait();
}
