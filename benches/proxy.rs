//! The SFU proxy's own cost, against the fake on loopback (the fake in a child process, so
//! that only the proxy and its callers are in this one):
//! - per request: a session read through the proxy (an HTTP request to it, its token checked,
//!   the per-caller limit, the relay) against the same read made directly with the facade,
//!   p50 and p99 of each and what the proxy adds;
//! - 1,000 browsers at once (in the child process too): each creates a session through the
//!   proxy and reads it, all concurrently; this process's resident memory and peak before and
//!   after, so the figures are the proxy's alone.
//!
//!     cargo bench --bench proxy --features fake,proxy      (Linux: reads /proc/self/status)
//!
//! Run without `--bench` (`cargo test --benches`, as CI does), it is a smoke run: 50 rounds and
//! 20 browsers.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use apps_api::cloudflare::sfu::proxy::Proxy;
use apps_api::cloudflare::sfu::RealtimeClient;
use apps_api::fake::FakeServer;

const KEY: &str = "the bench proxy's signing key, 32 bytes or more";
/// A smoke run (no `--bench`), in this process and the child.
static SMOKE: std::sync::LazyLock<bool> =
    std::sync::LazyLock::new(|| !std::env::args().any(|a| a == "--bench"));

/// Session reads measured each way.
fn rounds() -> usize {
    if *SMOKE {
        50
    } else {
        3000
    }
}

/// Browsers at once.
fn browsers() -> usize {
    if *SMOKE {
        20
    } else {
        1000
    }
}
/// The fake keeps at most 256 live sessions per app: the browsers are spread over four apps,
/// each with its proxy.
const APPS: usize = 4;

fn main() {
    if std::env::args().any(|a| a == "--serve-fake") {
        return serve_fake();
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .arg("--serve-fake")
        .args((!*SMOKE).then_some("--bench"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = lines.next().unwrap().unwrap();
    let apps: Vec<(String, String)> = (0..APPS)
        .map(|_| {
            (
                lines.next().unwrap().unwrap(),
                lines.next().unwrap().unwrap(),
            )
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    runtime.block_on(measure(&base, &apps, &mut stdin, &mut lines));
    drop(stdin);
    let _ = child.wait();
}

/// The child: the fake with [`APPS`] Calls apps; its base URL, then each app's ID and secret
/// on stdout. Then, for each line `browse URL…` on stdin, [`browsers`] browsers at once
/// through those proxies, and `done` on stdout; it ends when its stdin closes.
fn serve_fake() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _fake = runtime.block_on(async {
        let fake = FakeServer::start().await.unwrap();
        println!("{}", fake.realtime_base_url());
        for _ in 0..APPS {
            let created = fake
                .cloudflare_client()
                .unwrap()
                .calls(fake.account_id())
                .create(Some("bench"))
                .await
                .unwrap();
            println!("{}", created.app.id.unwrap().as_str());
            println!("{}", created.secret.expose());
        }
        fake
    });
    for line in std::io::stdin().lines() {
        let Ok(line) = line else { return };
        let Some(urls) = line.strip_prefix("browse ") else {
            return;
        };
        let urls: Vec<String> = urls.split_whitespace().map(String::from).collect();
        runtime.block_on(browse(&urls));
        println!("done");
    }
}

/// [`browsers`] browsers at once, spread over `urls`: a session each, then a read of it.
async fn browse(urls: &[String]) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let browsers: Vec<_> = (0..browsers())
        .map(|browser| {
            let (http, url) = (http.clone(), urls[browser % urls.len()].clone());
            tokio::spawn(async move {
                let created = http
                    .post(format!("{url}/sessions/new"))
                    .send()
                    .await
                    .unwrap();
                assert!(created.status().is_success(), "{}", created.status());
                let cookie = created.headers()["set-cookie"]
                    .to_str()
                    .unwrap()
                    .to_string();
                let pair = cookie.split(';').next().unwrap().to_string();
                let id: serde_json::Value = created.json().await.unwrap();
                let id = id["sessionId"].as_str().unwrap().to_string();
                let read = http
                    .get(format!("{url}/sessions/{id}"))
                    .header("cookie", pair)
                    .send()
                    .await
                    .unwrap();
                assert!(read.status().is_success());
            })
        })
        .collect();
    for browser in browsers {
        browser.await.unwrap();
    }
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

async fn measure(
    base: &str,
    apps: &[(String, String)],
    child_in: &mut std::process::ChildStdin,
    child_out: &mut std::io::Lines<BufReader<std::process::ChildStdout>>,
) {
    let (app, secret) = (apps[0].0.as_str(), apps[0].1.as_str());
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();

    // Per request: unpaced (the session's pace would make every read wait), and no per-caller
    // limit in the way (its layer is still crossed).
    let client = RealtimeClient::builder(app, secret)
        .base_url(base)
        .rate_budget(None)
        .build()
        .unwrap();
    let proxy = Proxy::builder(client.clone(), KEY)
        .prefix("/sfu")
        .per_caller(u32::MAX, Duration::from_nanos(1))
        .build()
        .unwrap();
    let url = serve(axum::Router::new().nest("/sfu", proxy.router())).await;
    let created = http
        .post(format!("{url}/sessions/new"))
        .send()
        .await
        .unwrap();
    let cookie = created.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    let token = cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_string();
    let id: serde_json::Value = created.json().await.unwrap();
    let id = id["sessionId"].as_str().unwrap().to_string();
    let session = client.session(id.as_str());
    let (mut direct, mut proxied) = (Vec::new(), Vec::new());
    for round in 0..rounds() + 200 {
        let started = Instant::now();
        session.state().await.unwrap();
        let direct_took = started.elapsed();
        let started = Instant::now();
        let answer = http
            .get(format!("{url}/sessions/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success());
        answer.bytes().await.unwrap();
        let proxied_took = started.elapsed();
        // The first rounds warm connections and caches.
        if round >= 200 {
            direct.push(direct_took);
            proxied.push(proxied_took);
        }
    }
    direct.sort();
    proxied.sort();
    let rounds = rounds();
    println!("## A session read, {rounds} rounds (direct and through the proxy in turn)\n");
    println!("| path | p50 | p99 |");
    println!("|---|---:|---:|");
    for (name, times) in [("facade, direct", &direct), ("through the proxy", &proxied)] {
        println!(
            "| {name} | {:.0} µs | {:.0} µs |",
            micros(percentile(times, 0.5)),
            micros(percentile(times, 0.99))
        );
    }
    println!(
        "| the proxy adds | {:.0} µs | {:.0} µs |\n",
        micros(percentile(&proxied, 0.5)) - micros(percentile(&direct, 0.5)),
        micros(percentile(&proxied, 0.99)) - micros(percentile(&direct, 0.99))
    );

    // 1,000 browsers at once, on the client users get by default (paced per session).
    let mut urls = Vec::new();
    for (app, secret) in apps {
        let client = RealtimeClient::builder(app.as_str(), secret.as_str())
            .base_url(base)
            .build()
            .unwrap();
        let proxy = Proxy::builder(client, KEY)
            .prefix("/sfu")
            .per_caller(u32::MAX, Duration::from_nanos(1))
            .build()
            .unwrap();
        urls.push(serve(axum::Router::new().nest("/sfu", proxy.router())).await);
    }
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = (status_kib("VmRSS:"), status_kib("VmHWM:"));
    let started = Instant::now();
    writeln!(child_in, "browse {}", urls.join(" ")).unwrap();
    assert_eq!(child_out.next().unwrap().unwrap(), "done");
    let took = started.elapsed();
    let after = (status_kib("VmRSS:"), status_kib("VmHWM:"));
    let browsers = browsers();
    println!("## {browsers} browsers at once: a session each through the proxy, then a read\n");
    println!("| | resident | peak |");
    println!("|---|---:|---:|");
    println!(
        "| before | {:.1} MB | {:.1} MB |",
        before.0 as f64 / 1024.0,
        before.1 as f64 / 1024.0
    );
    println!(
        "| after | {:.1} MB | {:.1} MB |",
        after.0 as f64 / 1024.0,
        after.1 as f64 / 1024.0
    );
    println!(
        "\n{browsers} sessions made and read in {:.2} s, the browsers in the other process: \
         {:.1} KB more resident per session after, {:.1} KB more at the peak.",
        took.as_secs_f64(),
        after.0.saturating_sub(before.0) as f64 / browsers as f64,
        after.1.saturating_sub(before.0) as f64 / browsers as f64,
    );
}

/// Serves `router` on loopback with peer addresses; its base URL with the prefix.
async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/sfu", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap()
    });
    url
}
