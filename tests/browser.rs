//! A call between two tabs of a real browser, offline: Debian's Chromium (headless, a fake
//! camera and microphone) opens two pages of `examples/proxy`, served by `apps-api proxy
//! --static` in front of `apps-api fake` carrying media, and then by the example itself on its
//! embedded fake. Each page publishes and pulls the other's tracks; within 10 s both pages'
//! `getStats()` must show inbound audio and video bytes and decoded video frames, a data channel
//! message must cross, and a screenshot of the receiving page is saved
//! (`target/browser/call.png`).
//!
//! Driven by playwright-core from npm (`tests/browser`), with the system's Chromium: no browser
//! is downloaded. Without Chromium or node_modules the test says it is skipped; with `CI` set
//! (`.ci/run` sets it, and installs both) it fails instead.
#![cfg(all(feature = "cli", feature = "fake-media"))]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

const TOKEN: &str = "browser-test-token-0123456789";

/// What is missing to run the test, if anything.
fn missing() -> Option<String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return Some(format!(
            "Chromium at {chromium} (apt-get install -y chromium)"
        ));
    }
    if !Path::new("tests/browser/node_modules/playwright-core").exists() {
        return Some("playwright-core (npm ci --prefix tests/browser)".into());
    }
    let node = std::process::Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        return Some("node".into());
    }
    None
}

/// `apps-api` with these arguments, its stdout piped.
fn apps_api(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_apps-api"));
    command
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    for name in [
        "CLOUDFLARE_TURN_KEY_ID",
        "CLOUDFLARE_TURN_KEY",
        "APPS_API_PROXY_KEY",
        "CLOUDFLARE_CALLS_APP_ID",
        "CLOUDFLARE_CALLS_APP_SECRET",
        "CLOUDFLARE_REALTIME_BASE_URL",
    ] {
        command.env_remove(name);
    }
    command
}

/// The child's stdout, line by line.
fn lines(child: &mut Child) -> Lines<BufReader<ChildStdout>> {
    BufReader::new(child.stdout.take().unwrap()).lines()
}

/// The first line of `lines` that `pick` finds something in (within 30 s).
async fn find<T>(lines: &mut Lines<BufReader<ChildStdout>>, pick: impl Fn(&str) -> Option<T>) -> T {
    let found = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(found) = pick(&line) {
                return Some(found);
            }
        }
        None
    });
    found.await.ok().flatten().expect("the child said it")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browser_tabs_call_each_other_through_the_proxy_and_the_fake() {
    if let Some(what) = missing() {
        if std::env::var_os("CI").is_some() {
            panic!("the browser test cannot run in CI without {what}");
        }
        eprintln!("SKIPPED two_browser_tabs_call_each_other_through_the_proxy_and_the_fake: {what} is missing");
        return;
    }
    let mut fake = apps_api(&[
        "fake",
        "--port",
        "0",
        "--media-port",
        "0",
        "--cloudflare-token",
        TOKEN,
    ])
    .spawn()
    .unwrap();
    let mut fake_out = lines(&mut fake);
    let cloudflare = find(&mut fake_out, |l| {
        l.strip_prefix("Fake Cloudflare API: ").map(str::to_string)
    })
    .await;
    let realtime = cloudflare.replace("/client/v4", "/v1");
    let created = apps_api::cloudflare::CloudflareClient::builder()
        .credentials(apps_api::cloudflare::Credentials::api_token(TOKEN))
        .base_url(&cloudflare)
        .build()
        .unwrap()
        .calls(apps_api::fake::DEFAULT_ACCOUNT_ID)
        .create(Some("browser-call"))
        .await
        .unwrap();
    let mut proxy = apps_api(&[
        "proxy",
        "--port",
        "0",
        "--prefix",
        "/partytracks",
        "--static",
        "examples/proxy",
    ])
    .env("CLOUDFLARE_CALLS_APP_ID", created.app.id.unwrap().as_str())
    .env("CLOUDFLARE_CALLS_APP_SECRET", created.secret.expose())
    .env("CLOUDFLARE_REALTIME_BASE_URL", &realtime)
    .spawn()
    .unwrap();
    let mut proxy_out = lines(&mut proxy);
    let page = find(&mut proxy_out, |l| {
        let url = l.split_whitespace().find(|w| w.starts_with("http://"))?;
        Some(format!("{}/", url.trim_end_matches("/partytracks")))
    })
    .await;
    call(&page, "call.png").await;
}

/// `examples/proxy` on its own (its embedded fake carrying media, its room): two tabs see each
/// other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browser_tabs_call_each_other_on_the_proxy_example() {
    if let Some(what) = missing() {
        if std::env::var_os("CI").is_some() {
            panic!("the browser test cannot run in CI without {what}");
        }
        eprintln!(
            "SKIPPED two_browser_tabs_call_each_other_on_the_proxy_example: {what} is missing"
        );
        return;
    }
    // Built beside the test binaries by `cargo test --all-features`.
    let exe = std::env::current_exe().unwrap();
    let example = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/proxy");
    assert!(example.exists(), "{} is missing", example.display());
    let mut server = Command::new(example)
        .args(["--port", "0"])
        .env_remove("CLOUDFLARE_CALLS_APP_SECRET")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut out = lines(&mut server);
    let page = find(&mut out, |l| {
        let url = l.strip_prefix("Open ")?.split_whitespace().next()?;
        Some(url.to_string())
    })
    .await;
    call(&page, "example-call.png").await;
}

/// Two tabs on `page` call each other (`tests/browser/call.mjs`); what they saw is checked, and
/// the screenshot kept as `target/browser/{shot}`.
async fn call(page: &str, shot: &str) {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(shot);
    let _ = std::fs::remove_file(&out);
    let run = Command::new("node")
        .arg("tests/browser/call.mjs")
        .arg(page)
        .arg(&out)
        .kill_on_drop(true)
        .output();
    let run = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the browser run ends within 2 minutes")
        .unwrap();
    let said = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{said}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let result: serde_json::Value = serde_json::from_str(said.trim()).unwrap();
    eprintln!("browser call on {page}: {result}");
    let media_ms = result["mediaMs"].as_u64();
    assert!(media_ms.is_some_and(|ms| ms <= 10_000), "{result}");
    for stats in result["stats"].as_array().unwrap() {
        for field in ["audioBytes", "videoBytes", "framesDecoded"] {
            assert!(stats[field].as_u64().unwrap_or(0) > 0, "{field}: {result}");
        }
    }
    assert!(
        result["messageMs"].as_u64().is_some(),
        "no message crossed: {result}"
    );
    let shot_size = std::fs::metadata(&out).expect("a screenshot").len();
    assert!(shot_size > 1000);
    let keep = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser");
    let _ = std::fs::create_dir_all(&keep);
    let _ = std::fs::copy(&out, keep.join(shot));
}
