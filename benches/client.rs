//! Client overhead, measured side by side in one run (`cargo bench --bench client --features test-util`):
//!
//! 1. each operation of the table through its contract-test driver, answered in process
//!    (feature `test-util`) with its spec's documented answer, vs `serde_json` reading the same
//!    body into a `Value` ([`decode`]);
//! 2. end to end on loopback against a minimal hyper server in a child process (so the process
//!    CPU time measured here is the client's alone): the facade's `get` (Magic: `list`) vs a raw
//!    `reqwest` + `serde_json` loop, sequential and 16 in flight, on both tokio runtimes;
//! 3. connection reuse: 10,000 sequential calls, connections accepted by the server;
//! 4. memory: resident set after 10,000 and after 100,000 calls.
//!
//! Set `BENCH_SECONDS` (default 3) for the length of each end-to-end run.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use apps_api::cloudflare::{CloudflareClient, Credentials};
use apps_api::hover::HoverClient;
use apps_api::{CallsAppId, HoverAppId};
use chrono::{DateTime, Utc};
use serde::Deserialize;

#[path = "client/decode.rs"]
mod decode;
#[allow(dead_code)]
#[path = "../tests/common/schema.rs"]
mod schema;

// The contract tests' drivers (each operation called through the facade, `drivers::all()`) and
// the modules that list them; their tests are not compiled here.
#[allow(dead_code, unused_imports)]
#[path = "../tests/contract/calls.rs"]
mod calls;
#[allow(dead_code, unused_imports)]
#[path = "../tests/contract/drivers.rs"]
mod drivers;
#[allow(dead_code, unused_imports)]
#[path = "../tests/contract/hover.rs"]
mod hover;
#[allow(dead_code, unused_imports)]
#[path = "../tests/contract/magic.rs"]
mod magic;
#[allow(dead_code, unused_imports)]
#[path = "../tests/contract/magic_sites.rs"]
mod magic_sites;
#[allow(dead_code, unused_imports)]
#[path = "../tests/contract/sfu.rs"]
mod sfu;
#[allow(dead_code, unused_imports, unused_macros)]
#[path = "../tests/contract/support.rs"]
mod support;
#[allow(dead_code, unused_imports)]
#[path = "../tests/contract/turn.rs"]
mod turn;

const CALLS_GET: &str = include_str!("../tests/fixtures/docs/calls-get.response.json");
const HOVER_APP: &str = include_str!("../tests/fixtures/docs/hover-create.response.json");
const MAGIC_LIST: &str = r#"{"success":true,"errors":[],"messages":[],"result":[{"account_app_id":"ac60d3d0435248289d446cedd870bcf4","name":"Cloudflare Dashboard","type":"Development","hostnames":["auth.cloudflare.com"],"ip_subnets":["1.1.1.1/32"]},{"managed_app_id":"cloudflare","name":"Cloudflare","hostnames":["cloudflare.com"]}]}"#;

// ----- plain structs: what a hand-written client would decode into -----

#[derive(Deserialize)]
#[allow(dead_code)]
struct Message {
    code: i64,
    message: String,
    documentation_url: Option<String>,
    source: Option<MessageSource>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct MessageSource {
    pointer: Option<String>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Envelope<T> {
    success: bool,
    errors: Vec<Message>,
    messages: Vec<Message>,
    result: Option<T>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct PlainCallsApp {
    uid: Option<String>,
    name: Option<String>,
    created: Option<DateTime<Utc>>,
    modified: Option<DateTime<Utc>>,
    secret: Option<String>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct PlainMagicApp {
    account_app_id: Option<String>,
    managed_app_id: Option<String>,
    name: Option<String>,
    #[serde(rename = "type")]
    app_type: Option<String>,
    hostnames: Option<Vec<String>>,
    ip_subnets: Option<Vec<String>>,
    source_subnets: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct PlainHoverAttributes {
    id: i64,
    icon: Option<String>,
    name: String,
    package_name: String,
    token: Option<String>,
    webhook_url: Option<String>,
    webhook_secret: Option<String>,
    organization_id: Option<i64>,
    created_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
    archived_at: Option<DateTime<Utc>>,
    transactions_count: Option<i64>,
    is_tester: Option<bool>,
    apk_url: Option<String>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct PlainIdentifier {
    id: String,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct PlainOrganization {
    data: Option<PlainIdentifier>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct PlainRelationships {
    organization: Option<PlainOrganization>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct PlainHoverData {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    attributes: PlainHoverAttributes,
    relationships: Option<PlainRelationships>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct PlainHoverDocument {
    data: PlainHoverData,
}

/// Best of 5 runs of `iterations` calls, in ns per call.
fn time_per_call(iterations: u32, mut f: impl FnMut() -> usize) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let started = Instant::now();
        let mut sink = 0;
        for _ in 0..iterations {
            sink += std::hint::black_box(f());
        }
        std::hint::black_box(sink);
        best = best.min(started.elapsed().as_nanos() as f64 / f64::from(iterations));
    }
    best
}

// ----- the server, in a child process -----

fn serve() {
    use http_body_util::Full;
    use hyper::body::Bytes;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("{}", listener.local_addr().unwrap().port());
        let accepted = Arc::new(AtomicUsize::new(0));
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            accepted.fetch_add(1, Ordering::SeqCst);
            let accepted = accepted.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |request: hyper::Request<hyper::body::Incoming>| {
                        let path = request.uri().path();
                        let body: Bytes = if path == "/stats" {
                            Bytes::from(accepted.load(Ordering::SeqCst).to_string())
                        } else if path.starts_with("/api/") {
                            Bytes::from_static(HOVER_APP.as_bytes())
                        } else if path.contains("/magic/") {
                            Bytes::from_static(MAGIC_LIST.as_bytes())
                        } else {
                            Bytes::from_static(CALLS_GET.as_bytes())
                        };
                        let mut response =
                            hyper::Response::builder().header("content-type", "application/json");
                        if path.starts_with("/client/v4/") {
                            // As Cloudflare's answers carry them, with a quota no run reaches.
                            response = response
                                .header("ratelimit", "\"default\";r=99999999;t=300")
                                .header("ratelimit-policy", "\"default\";q=100000000;w=300");
                        }
                        let response = response.body(Full::new(body)).unwrap();
                        async move { Ok::<_, std::convert::Infallible>(response) }
                    },
                );
                let io = hyper_util::rt::TokioIo::new(socket);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    });
}

struct Server {
    child: std::process::Child,
    base: String,
}

impl Server {
    fn start() -> Server {
        use std::io::BufRead;
        let exe = std::env::current_exe().unwrap();
        // Pinned to the last CPU when `taskset` is there, so the server does not wander onto
        // the client's core (which made CPU per request bimodal between runs).
        let last_cpu = std::thread::available_parallelism().map_or(1, |n| n.get()) - 1;
        let pinned = std::process::Command::new("taskset")
            .args(["-c", &last_cpu.to_string()])
            .arg(&exe)
            .arg("serve")
            .stdout(std::process::Stdio::piped())
            .spawn();
        let mut child = pinned.unwrap_or_else(|_| {
            std::process::Command::new(&exe)
                .arg("serve")
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        });
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        Server {
            child,
            base: format!("http://127.0.0.1:{}", line.trim()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU time this process's threads have run (client only: the server is another process),
/// from the scheduler's nanosecond accounting (`/proc/self/task/*/schedstat`) rather than the
/// 10 ms ticks of `/proc/self/stat`.
fn cpu_time() -> Duration {
    let mut total = 0u64;
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let path = task.unwrap().path().join("schedstat");
        // A thread can end between the listing and the read.
        if let Ok(stat) = std::fs::read_to_string(path) {
            total += stat
                .split_whitespace()
                .next()
                .unwrap()
                .parse::<u64>()
                .unwrap();
        }
    }
    Duration::from_nanos(total)
}

/// Rounds per end-to-end cell.
const ROUNDS: usize = 10;

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn geometric_mean(values: &[f64]) -> f64 {
    (values.iter().map(|v| v.ln()).sum::<f64>() / values.len() as f64).exp()
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[derive(Clone, Copy, PartialEq)]
enum Api {
    Calls,
    Magic,
    Hover,
}

#[derive(Clone)]
struct Clients {
    cf: CloudflareClient,
    hover: HoverClient,
    raw: reqwest::Client,
    base: String,
}

impl Clients {
    fn new(base: &str) -> Clients {
        // The facade as users get it: default retry policy and timeouts.
        let cf = CloudflareClient::builder()
            .credentials(Credentials::api_token("bench-token"))
            .base_url(format!("{base}/client/v4"))
            .build()
            .unwrap();
        let hover = HoverClient::builder()
            .token("bench-jwt")
            .base_url(base)
            .build()
            .unwrap();
        let _ = rustls::crypto::ring::default_provider().install_default();
        // Configured like the facade's own client: a production loop has timeouts too.
        let raw = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .build()
            .unwrap();
        Clients {
            cf,
            hover,
            raw,
            base: base.to_string(),
        }
    }

    async fn facade(&self, api: Api) -> usize {
        match api {
            Api::Calls => {
                let app = self
                    .cf
                    .calls("acc")
                    .get(&CallsAppId::new("2a95132c15732412d22c1476fa83f27a"))
                    .await
                    .unwrap();
                usize::from(app.id.is_some())
            }
            Api::Magic => self.cf.magic("acc").list().await.unwrap().len(),
            Api::Hover => usize::from(
                !self
                    .hover
                    .apps()
                    .get(&HoverAppId::new("43120"))
                    .await
                    .unwrap()
                    .name
                    .is_empty(),
            ),
        }
    }

    async fn raw(&self, api: Api) -> usize {
        let (url, auth) = match api {
            Api::Calls => (
                format!(
                    "{}/client/v4/accounts/acc/calls/apps/2a95132c15732412d22c1476fa83f27a",
                    self.base
                ),
                "Bearer bench-token",
            ),
            Api::Magic => (
                format!("{}/client/v4/accounts/acc/magic/apps", self.base),
                "Bearer bench-token",
            ),
            Api::Hover => (format!("{}/api/apps/43120", self.base), "bench-jwt"),
        };
        let body = self
            .raw
            .get(url)
            .header("authorization", auth)
            .header("accept", "application/json")
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        match api {
            Api::Calls => usize::from(
                serde_json::from_slice::<Envelope<PlainCallsApp>>(&body)
                    .unwrap()
                    .result
                    .is_some(),
            ),
            Api::Magic => serde_json::from_slice::<Envelope<Vec<PlainMagicApp>>>(&body)
                .unwrap()
                .result
                .unwrap()
                .len(),
            Api::Hover => serde_json::from_slice::<PlainHoverDocument>(&body)
                .map(|_| 1)
                .unwrap(),
        }
    }
}

struct Measured {
    per_second: f64,
    cpu_us: f64,
}

async fn measure(
    clients: &Clients,
    api: Api,
    facade: bool,
    in_flight: usize,
    seconds: f64,
) -> Measured {
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let (cpu0, t0) = (cpu_time(), Instant::now());
    let done = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..in_flight)
        .map(|_| {
            let (clients, done) = (clients.clone(), done.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let n = if facade {
                        clients.facade(api).await
                    } else {
                        clients.raw(api).await
                    };
                    std::hint::black_box(n);
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    let (wall, cpu) = (t0.elapsed(), cpu_time() - cpu0);
    let n = done.load(Ordering::Relaxed) as f64;
    Measured {
        per_second: n / wall.as_secs_f64(),
        cpu_us: cpu.as_secs_f64() * 1e6 / n,
    }
}

fn end_to_end_section(base: &str, seconds: f64) {
    println!("## End to end on loopback ({seconds} s per side and cell in {ROUNDS} rounds; CPU = this process, client only)\n");
    println!(
        "Medians over the rounds; the last column is the range of the rounds' facade/raw ratios.\n"
    );
    println!("| runtime | api | in flight | facade req/s | raw req/s | facade CPU µs/req | raw CPU µs/req | facade/raw CPU | rounds |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    let mut summary = Vec::new();
    for multi in [false, true] {
        let runtime = client_runtime(multi);
        let name = if multi {
            "multi-thread (2)"
        } else {
            "current-thread"
        };
        let mut ratios: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
        for (slot, in_flight) in [1usize, 16].into_iter().enumerate() {
            for api in [Api::Calls, Api::Magic, Api::Hover] {
                let clients = runtime.block_on(async { Clients::new(base) });
                // Warm up the pools and caches.
                runtime.block_on(async {
                    for _ in 0..200 {
                        clients.facade(api).await;
                        clients.raw(api).await;
                    }
                });
                // Facade and raw take turns (ABBA) in short rounds, so drift in the machine's
                // speed hits both alike; each round's facade/raw ratio is taken against the
                // raw run next to it, and the cell's figures are medians over the rounds.
                let round = seconds / ROUNDS as f64;
                let (mut facade, mut raw) = (Vec::new(), Vec::new());
                for r in 0..ROUNDS {
                    for facade_first in [r % 2 == 0, r % 2 != 0] {
                        let m = runtime.block_on(measure(
                            &clients,
                            api,
                            facade_first,
                            in_flight,
                            round,
                        ));
                        if facade_first {
                            facade.push(m)
                        } else {
                            raw.push(m)
                        }
                    }
                }
                let round_ratios: Vec<f64> = facade
                    .iter()
                    .zip(&raw)
                    .map(|(f, r)| f.cpu_us / r.cpu_us)
                    .collect();
                let ratio = median(round_ratios.iter().copied());
                let (facade_cpu, raw_cpu) = (
                    median(facade.iter().map(|m| m.cpu_us)),
                    median(raw.iter().map(|m| m.cpu_us)),
                );
                let (facade_rps, raw_rps) = (
                    median(facade.iter().map(|m| m.per_second)),
                    median(raw.iter().map(|m| m.per_second)),
                );
                let spread = format!(
                    "{:.2}–{:.2}",
                    round_ratios.iter().copied().fold(f64::INFINITY, f64::min),
                    round_ratios.iter().copied().fold(0.0, f64::max)
                );
                let api_name = match api {
                    Api::Calls => "Calls get",
                    Api::Magic => "Magic list",
                    Api::Hover => "Hover get",
                };
                println!(
                    "| {name} | {api_name} | {in_flight} | {facade_rps:.0} | {raw_rps:.0} | {facade_cpu:.1} | {raw_cpu:.1} | {ratio:.2}× | {spread} |"
                );
                ratios[slot].push(ratio);
            }
        }
        summary.push(format!(
            "{name}: facade/raw CPU per request: {:.2}× sequential, {:.2}× 16 in flight",
            geometric_mean(&ratios[0]),
            geometric_mean(&ratios[1])
        ));
    }
    println!();
    for line in summary {
        println!("{line}");
    }
    println!();
}

/// The client's runtime: current-thread, or multi-thread with 2 workers (one per core here).
fn client_runtime(multi: bool) -> tokio::runtime::Runtime {
    if multi {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }
}

fn reuse_and_memory_section(base: &str) {
    let runtime = client_runtime(false);
    // A fresh server, so its accept count is this client's alone.
    let server = Server::start();
    let clients = runtime.block_on(async { Clients::new(&server.base) });
    let stats = |runtime: &tokio::runtime::Runtime| -> usize {
        runtime.block_on(async {
            reqwest::Client::new()
                .get(format!("{}/stats", server.base))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
                .parse()
                .unwrap()
        })
    };
    runtime.block_on(async {
        for _ in 0..10_000 {
            clients.facade(Api::Calls).await;
        }
    });
    // One connection for the facade, plus the one `stats` opens itself.
    let accepted = stats(&runtime) - 1;
    println!("## Connection reuse\n\n10,000 sequential facade calls on one client: {accepted} TCP connection(s) accepted by the server.\n");

    let _ = base;
    let after_10k = rss_kib();
    runtime.block_on(async {
        for _ in 0..90_000 {
            clients.facade(Api::Calls).await;
        }
    });
    let after_100k = rss_kib();
    println!(
        "## Memory\n\nResident set after 10,000 calls: {after_10k} KiB; after 100,000 calls: {after_100k} KiB; difference {} KiB.\n",
        after_100k as i64 - after_10k as i64
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("serve") {
        return serve();
    }
    // `client profile facade|raw BASE N`: a plain loop for a sampling profiler.
    // `client profile facade|raw BASE N [API [IN_FLIGHT [multi]]]`: N calls in a bare loop on a
    // current-thread (or 2-worker) runtime, for `valgrind --tool=callgrind` or `perf record`.
    if args.get(1).map(String::as_str) == Some("profile") {
        let facade = args[2] == "facade";
        let n: usize = args[4].parse().unwrap();
        let api = match args.get(5).map(String::as_str) {
            Some("calls") => Api::Calls,
            Some("magic") => Api::Magic,
            _ => Api::Hover,
        };
        let in_flight: usize = args.get(6).map_or(1, |v| v.parse().unwrap());
        let runtime = client_runtime(args.get(7).map(String::as_str) == Some("multi"));
        let clients = runtime.block_on(async { Clients::new(&args[3]) });
        runtime.block_on(async {
            let workers: Vec<_> = (0..in_flight)
                .map(|_| {
                    let clients = clients.clone();
                    tokio::spawn(async move {
                        for _ in 0..n / in_flight {
                            if facade {
                                clients.facade(api).await;
                            } else {
                                clients.raw(api).await;
                            }
                        }
                    })
                })
                .collect();
            for w in workers {
                w.await.unwrap();
            }
        });
        return;
    }
    // `cargo test --benches` runs bench binaries with --bench absent: a smoke run then, every
    // operation of the table run through its driver on its documented answer, so that CI sees
    // a bench broken by an operation.
    if !args.iter().any(|a| a == "--bench") {
        println!("A smoke run (a test build, each case twice): the figures mean nothing.\n");
        decode::section(true);
        return;
    }
    let seconds: f64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    decode::section(false);
    let server = Server::start();
    end_to_end_section(&server.base, seconds);
    drop(server);
    reuse_and_memory_section("");
}
