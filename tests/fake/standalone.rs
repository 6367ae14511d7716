//! The standalone fake: the `apps-api fake` binary serves until stopped, prints its base URLs
//! and credentials, and answers curl-style requests and its control API.

use std::process::Stdio;

use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::support::send;

#[tokio::test]
async fn the_binary_serves_until_stopped_and_prints_how_to_reach_it() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_apps-api"))
        .args([
            "fake",
            "--cloudflare-token",
            "standalone-token",
            "--hover-email",
            "e@example.com",
            "--rate-limit",
            "3/1m",
        ])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut banner = Vec::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        let done = line.starts_with("Ctrl-C");
        banner.push(line);
        if done {
            break;
        }
    }
    let banner = banner.join("\n");
    let base = banner
        .lines()
        .find_map(|l| l.strip_prefix("Fake Cloudflare API: "))
        .unwrap_or_else(|| panic!("{banner}"))
        .to_string();
    assert!(banner.contains("token:   standalone-token"), "{banner}");
    assert!(banner.contains("email:    e@example.com"), "{banner}");
    assert!(banner.contains("/__fake"), "{banner}");

    let account = apps_api::fake::DEFAULT_ACCOUNT_ID;
    let url = format!("{base}/accounts/{account}/calls/apps");
    let auth = [("authorization", "Bearer standalone-token")];
    let (status, body) = send(Method::GET, &url, &auth, None).await;
    assert_eq!((status, &body["result"]), (200, &json!([])));
    let control = base.replace("/client/v4", "/__fake/faults");
    let (status, _) = send(
        Method::POST,
        &control,
        &[],
        Some(json!({"operation": "calls-apps-list", "fault": {"status": 503}})),
    )
    .await;
    assert_eq!(status, 201);
    let (status, _) = send(Method::GET, &url, &auth, None).await;
    assert_eq!(status, 503);
    // The third request of the minute is the last the rate limit lets through.
    assert!(
        banner.contains("rate limit: 3/60s per credential"),
        "{banner}"
    );
    let (status, body) = send(Method::GET, &url, &auth, None).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = send(Method::GET, &url, &auth, None).await;
    assert_eq!((status, &body["errors"][0]["code"]), (429, &json!(971)));
    child.kill().await.unwrap();
}

#[tokio::test]
async fn bad_flags_are_a_usage_error() {
    for (flag, value) in [
        ("--port", "not-a-port"),
        ("--rate-limit", "0/6s"),
        ("--rate-limit", "30"),
    ] {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_apps-api"))
            .args(["fake", flag, value])
            .output()
            .await
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{flag} {value}");
        assert!(String::from_utf8_lossy(&output.stderr).contains(flag));
    }
}
