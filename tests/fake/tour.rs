//! The tour binary `--live` against the fake, once per credential form the clients accept: it
//! must finish, touch every operation it prints, and print the statuses the server actually
//! answered. The SFU example's call on the fake.

use std::collections::HashMap;
use std::path::PathBuf;

use apps_api::fake::{FakeConfig, FakeServer};
use reqwest::Method;
use serde_json::json;

use crate::support::send;

fn tour_binary() -> PathBuf {
    example_binary("tour", "examples/tour")
}

/// An example's binary, as `cargo test` builds it beside the test binaries, and no older than
/// what it is built from: a binary left from an earlier build would test earlier code.
fn example_binary(name: &str, source: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let debug = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let binary = debug
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let built = std::fs::metadata(&binary)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| {
            panic!(
                "{} is missing: `cargo test --all-features` builds it",
                binary.display()
            )
        });
    let newest = newest_source(&["src", "spec", source, "build.rs", "Cargo.toml"]);
    assert!(
        built >= newest.0,
        "{} is older than {}: build it again (`cargo test --all-features` builds the examples, \
         `cargo test --test fake` alone does not)",
        binary.display(),
        newest.1.display()
    );
    binary
}

/// The most recently modified file under `paths`, and when.
fn newest_source(paths: &[&str]) -> (std::time::SystemTime, PathBuf) {
    let mut newest = (std::time::UNIX_EPOCH, PathBuf::new());
    let mut stack: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
    while let Some(path) = stack.pop() {
        let meta = std::fs::metadata(&path).unwrap();
        if meta.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if let Ok(modified) = meta.modified() {
            if modified > newest.0 {
                newest = (modified, path);
            }
        }
    }
    newest
}

/// Runs the tour with exactly these variables (none of the caller's credentials).
async fn tour(vars: &[(&str, String)]) -> (bool, String, String) {
    let mut command = tokio::process::Command::new(tour_binary());
    command.arg("--live");
    for name in [
        "CLOUDFLARE_API_TOKEN",
        "CLOUDFLARE_API_KEY",
        "CLOUDFLARE_EMAIL",
        "CLOUDFLARE_ACCOUNT_ID",
        "CLOUDFLARE_BASE_URL",
        "CLOUDFLARE_REALTIME_BASE_URL",
        "HOVER_API_TOKEN",
        "HOVER_EMAIL",
        "HOVER_PASSWORD",
        "HOVER_BASE_URL",
    ] {
        command.env_remove(name);
    }
    for (name, value) in vars {
        command.env(name, value);
    }
    let output = command.output().await.unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The statuses the tour printed, per operation line (`  create    POST   /… 201`).
/// The statuses the tour printed, a step of several requests (`200×3`) counted as each.
fn printed_statuses(stdout: &str) -> Vec<u16> {
    stdout
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| {
            let printed = l.split_whitespace().last()?;
            let (status, times) = printed.split_once('×').unwrap_or((printed, "1"));
            Some(vec![status.parse().ok()?; times.parse().ok()?])
        })
        .flatten()
        .collect()
}

fn answered_statuses(fake: &FakeServer) -> Vec<u16> {
    fake.requests().iter().map(|r| r.status).collect()
}

#[tokio::test]
async fn the_tour_runs_live_with_every_credential_form() {
    let fake = FakeServer::start_with(
        FakeConfig::new()
            .cloudflare_token("tour-token")
            .cloudflare_key("ops@example.com", "tour-key")
            .hover_login("dev@example.com", "tour-password"),
    )
    .await
    .unwrap();
    let cf = [
        ("CLOUDFLARE_BASE_URL", fake.cloudflare_base_url()),
        ("CLOUDFLARE_ACCOUNT_ID", fake.account_id().to_string()),
        ("CLOUDFLARE_REALTIME_BASE_URL", fake.realtime_base_url()),
    ];
    let hover_base = ("HOVER_BASE_URL", fake.hover_base_url());

    // Cloudflare with a token: Calls and Magic.
    let (ok, out, err) = tour(&[
        cf[0].clone(),
        cf[1].clone(),
        cf[2].clone(),
        ("CLOUDFLARE_API_TOKEN", "tour-token".into()),
    ])
    .await;
    assert!(ok, "{out}\n{err}");
    assert!(
        out.contains("Cloudflare Calls apps") && out.contains("Cloudflare Magic account apps"),
        "{out}"
    );
    assert_eq!(printed_statuses(&out), answered_statuses(&fake), "{out}");
    let operations: Vec<&str> = fake.requests().iter().map(|r| r.operation).collect();
    for operation in [
        "calls-apps-delete-app",
        "sfu-sessions-new",
        "sfu-tracks-new",
        "sfu-session-get",
        "sfu-tracks-close",
        "calls-turn-key-create",
        "calls-update-turn-key",
        "turn-generate-ice-servers",
        "turn-revoke-credential",
        "calls-delete-turn-key",
        "magic-account-apps-patch-app",
    ] {
        assert!(
            operations.contains(&operation),
            "{operation}: {operations:?}"
        );
    }
    fake.reset();
    let before = fake.requests().len();

    // Cloudflare with email + key: Magic only, and a one-line note for Calls.
    let (ok, out, err) = tour(&[
        cf[0].clone(),
        cf[1].clone(),
        ("CLOUDFLARE_API_KEY", "tour-key".into()),
        ("CLOUDFLARE_EMAIL", "ops@example.com".into()),
    ])
    .await;
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("Calls accepts only API tokens"), "{out}");
    let calls_sent = fake.requests()[before..]
        .iter()
        .filter(|r| r.operation.starts_with("calls-") || r.operation.starts_with("turn-"))
        .count();
    assert_eq!(calls_sent, 0);
    assert!(out.contains("Cloudflare Magic account apps"), "{out}");
    assert_eq!(
        printed_statuses(&out),
        answered_statuses(&fake)[before..],
        "{out}"
    );
    let before = fake.requests().len();

    // Hover with a token: no login.
    let (_, login) = send(
        Method::POST,
        &format!("{}/api/authenticate", fake.hover_base_url()),
        &[],
        Some(json!({"email": "dev@example.com", "password": "tour-password"})),
    )
    .await;
    let before_tour = before + 1;
    let token = login["auth_token"].as_str().unwrap().to_string();
    let (ok, out, err) = tour(&[hover_base.clone(), ("HOVER_API_TOKEN", token)]).await;
    assert!(ok, "{out}\n{err}");
    let ran: Vec<&str> = fake.requests()[before_tour..]
        .iter()
        .map(|r| r.operation)
        .collect();
    assert!(!ran.contains(&"hover-authenticate"), "{ran:?}");
    assert!(ran.contains(&"hover-apps-restore"), "{ran:?}");
    assert_eq!(
        printed_statuses(&out),
        answered_statuses(&fake)[before_tour..],
        "{out}"
    );
    let before = fake.requests().len();

    // Hover with email + password: the login is a step.
    let (ok, out, err) = tour(&[
        hover_base,
        ("HOVER_EMAIL", "dev@example.com".into()),
        ("HOVER_PASSWORD", "tour-password".into()),
    ])
    .await;
    assert!(ok, "{out}\n{err}");
    assert_eq!(fake.requests()[before].operation, "hover-authenticate");
    assert_eq!(
        printed_statuses(&out),
        answered_statuses(&fake)[before..],
        "{out}"
    );
    let statuses: HashMap<&str, u16> = fake.requests()[before..]
        .iter()
        .map(|r| (r.operation, r.status))
        .collect();
    assert_eq!(statuses["hover-apps-create"], 201);
    // No secret of the run is printed.
    assert!(
        !out.contains("tour-password") && !out.contains("tour-token") && !out.contains("tour-key")
    );
}

/// Two participants on the embedded fake: Alice publishes two tracks, Bob pulls both and answers
/// the SFU's offer, both close; the states show it. With `fake-media` both are real WebRTC
/// peers, and Bob receives Alice's audio and video.
#[tokio::test]
async fn the_sfu_example_runs_a_call_on_the_fake() {
    let output = tokio::process::Command::new(example_binary("sfu", "examples/sfu.rs"))
        .env_remove("CLOUDFLARE_CALLS_APP_SECRET")
        .output()
        .await
        .unwrap();
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{out}");
    // (Each line's start and end: the mids are the peers' own.)
    let mut lines = vec![
        ("alice publishes: 2 track(s) done, 0 failed", ""),
        (
            "bob pulls: 2 track(s) done, 0 failed; the SFU sent an offer to answer",
            "",
        ),
        ("bob: renegotiated (answered the SFU's offer)", ""),
        ("bob: track cam mid ", " Some(Active)"),
        ("alice: closed [(\"", "\", Closed)]"),
        ("alice: track mic mid ", " Some(Inactive)"),
    ];
    if cfg!(feature = "fake-media") {
        lines.push((
            "bob: media flowing: alice's audio and video arrived in ",
            " ms",
        ));
    }
    for (start, end) in lines {
        assert!(
            out.lines()
                .any(|l| l.starts_with(start) && l.ends_with(end)),
            "{start:?}…{end:?} not in:\n{out}"
        );
    }
}

/// The proxy example on the embedded fake: it serves its page (plain `fetch` and
/// `RTCPeerConnection`), the room, and the proxy, where a session comes with its cookie and
/// another caller cannot read it. (The browser's own part needs real media: the browser test.)
#[cfg(feature = "proxy")]
#[tokio::test]
async fn the_proxy_example_serves_its_page_and_the_proxy() {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(example_binary("proxy", "examples/proxy"))
        .args(["--port", "0"])
        .env_remove("CLOUDFLARE_CALLS_APP_SECRET")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines
            .next_line()
            .await
            .unwrap()
            .expect("the example says where it is");
        if let Some(rest) = line.strip_prefix("Open ") {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    let http = crate::support::http();
    let page = http.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("RTCPeerConnection") && page.contains("/partytracks"));
    let created = http
        .post(format!("{url}partytracks/sessions/new"))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success());
    let cookie = created.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    let id = created.json::<serde_json::Value>().await.unwrap()["sessionId"]
        .as_str()
        .unwrap()
        .to_string();
    let stranger = http
        .get(format!("{url}partytracks/sessions/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), 401);
    let joined = http
        .post(format!("{url}room"))
        .json(&json!({"sessionId": id, "tracks": ["audio", "video"]}))
        .send()
        .await
        .unwrap();
    assert!(joined.status().is_success());
    let room: serde_json::Value = http
        .get(format!("{url}room"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(room["peers"][0]["sessionId"], id.as_str());
    child.kill().await.unwrap();
}
