//! `apps-api sfu session` and `sfu new-session` against the fake's Realtime SFU: a session's
//! tracks and data channels as tables and JSON, closed tracks inactive, IDs refused before
//! sending, the app secret from the environment and never shown, server text escaped.

use std::collections::HashMap;

use apps_api::cloudflare::sfu::{
    CloseTracks, DataChannelRequest, NewTracks, RealtimeClient, SessionDescription, TrackRequest,
};
use apps_api::fake::FakeServer;
use serde_json::json;

use super::{fake, keys, run, Run};

type Env = HashMap<&'static str, String>;

/// An endpoint's offer: one `m=` section per `(mid, media)`.
fn offer(sections: &[(&str, &str)]) -> SessionDescription {
    let mut sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n".to_string();
    for (mid, media) in sections {
        let line = match *media {
            "application" => "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
            _ => "m=audio 9 UDP/TLS/RTP/SAVPF 111",
        };
        sdp.push_str(&format!("{line}\r\na=mid:{mid}\r\n"));
    }
    SessionDescription::offer(sdp)
}

/// A Calls app created on the fake: the environment that names it (and its secret), an SFU
/// client of it, and the secret.
async fn app(fake: &FakeServer, env: &Env) -> (Env, RealtimeClient, String) {
    let cf = fake.cloudflare_client().unwrap();
    let created = cf.calls(fake.account_id()).create(None).await.unwrap();
    let id = created.app.id.unwrap().as_str().to_string();
    let secret = created.secret.expose().to_string();
    let mut env = env.clone();
    env.insert("CLOUDFLARE_CALLS_APP_ID", id.clone());
    env.insert("CLOUDFLARE_CALLS_APP_SECRET", secret.clone());
    let sfu = fake.realtime_client(id, secret.clone()).unwrap();
    (env, sfu, secret)
}

/// A session publishing `name` on mid 0; its ID.
async fn publishing(sfu: &RealtimeClient, name: &str) -> String {
    let id = sfu.create_session().await.unwrap().session_id;
    let session = sfu.session(&id);
    let added = session
        .add_tracks(
            &NewTracks::new([TrackRequest::local("0", name)]).offer(offer(&[("0", "audio")])),
        )
        .await
        .unwrap();
    assert!(added.tracks.into_result().is_ok());
    id.as_str().to_string()
}

/// The SFU requests the fake received.
fn sfu_requests(fake: &FakeServer) -> Vec<String> {
    let requests = fake.requests().into_iter();
    let sfu = requests.filter(|r| r.operation.starts_with("sfu-"));
    sfu.map(|r| format!("{} {}", r.method, r.path)).collect()
}

fn no_secret(secret: &str, runs: &[&Run]) {
    for output in runs {
        assert!(
            !output.stdout.contains(secret) && !output.stderr.contains(secret),
            "{}{}",
            output.stdout,
            output.stderr
        );
    }
}

#[tokio::test]
async fn a_sessions_tracks_and_data_channels_as_tables_and_json() {
    let (fake, env) = fake().await;
    let (env, sfu, secret) = app(&fake, &env).await;
    let publisher = publishing(&sfu, "mic").await;
    sfu.session(publisher.as_str())
        .establish_data_channels(
            DataChannelRequest::local("chat"),
            Some(offer(&[("1", "application")])),
        )
        .await
        .unwrap()
        .data_channel
        .into_result()
        .unwrap();

    let table = run(&env, &["sfu", "session", &publisher]).await;
    assert_eq!(table.code, 0, "{}", table.stderr);
    assert_eq!(
        table.stdout,
        "Tracks:\n\
         LOCATION  MID  TRACK_NAME  PUBLISHER_SESSION  STATUS\n\
         local     0    mic         -                  active\n\
         \n\
         Data channels:\n\
         LOCATION  NAME  ID  PUBLISHER_SESSION  STATUS\n\
         local     chat  0   -                  active\n"
    );
    let document = run(&env, &["sfu", "session", &publisher, "--json"]).await;
    assert_eq!(document.code, 0, "{}", document.stderr);
    assert_eq!(
        document.json(),
        json!({
            "tracks": [{"location": "local", "mid": "0", "track_name": "mic",
                        "session_id": null, "status": "active"}],
            "data_channels": [{"location": "local", "name": "chat", "id": 0,
                               "session_id": null, "status": "active"}],
        })
    );

    // A subscriber: its pulled track names the publishing session.
    let subscriber = sfu.create_session().await.unwrap().session_id;
    let pulled = sfu
        .session(&subscriber)
        .add_tracks(&NewTracks::new([TrackRequest::remote(
            publisher.as_str(),
            "mic",
        )]))
        .await
        .unwrap();
    assert!(pulled.tracks.into_result().is_ok());
    let remote = run(&env, &["sfu", "session", subscriber.as_str()]).await;
    assert_eq!(remote.code, 0, "{}", remote.stderr);
    assert_eq!(
        remote.stdout,
        format!(
            "Tracks:\n\
             LOCATION  MID  TRACK_NAME  PUBLISHER_SESSION                 STATUS\n\
             remote    0    mic         {publisher}  active\n\
             \n\
             Data channels:\n\
             LOCATION  NAME  ID  PUBLISHER_SESSION  STATUS\n"
        )
    );
    let remote_json = run(&env, &["sfu", "session", subscriber.as_str(), "--json"]).await;
    assert_eq!(
        remote_json.json(),
        json!({
            "tracks": [{"location": "remote", "mid": "0", "track_name": "mic",
                        "session_id": publisher, "status": "active"}],
            "data_channels": [],
        })
    );

    // A closed track stays listed, inactive.
    sfu.session(publisher.as_str())
        .close_tracks(&["0"], &CloseTracks::Force)
        .await
        .unwrap()
        .tracks
        .into_result()
        .unwrap();
    let closed = run(&env, &["sfu", "session", &publisher]).await;
    assert_eq!(closed.code, 0, "{}", closed.stderr);
    assert!(
        closed
            .stdout
            .contains("local     0    mic         -                  inactive\n"),
        "{}",
        closed.stdout
    );
    let closed_json = run(&env, &["sfu", "session", &publisher, "--json"]).await;
    let closed_json = closed_json.json();
    assert_eq!(keys(&closed_json), ["data_channels", "tracks"]);
    assert_eq!(closed_json["tracks"][0]["status"], "inactive");
    assert_eq!(closed_json["data_channels"][0]["status"], "active");

    // A session this app never had.
    let unknown = run(&env, &["sfu", "session", &"0".repeat(32)]).await;
    assert_eq!(unknown.code, 4, "{}", unknown.stderr);
    assert!(unknown.stdout.is_empty());
    no_secret(
        &secret,
        &[&table, &document, &remote, &remote_json, &closed, &unknown],
    );
}

#[tokio::test]
async fn new_session_prints_its_id_and_sends_its_options() {
    let (fake, env) = fake().await;
    let (env, _sfu, secret) = app(&fake, &env).await;
    let text = run(&env, &["sfu", "new-session"]).await;
    assert_eq!(text.code, 0, "{}", text.stderr);
    let id = text.stdout.strip_suffix('\n').unwrap();
    assert!(
        id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{}",
        text.stdout
    );
    let empty = run(&env, &["sfu", "session", id, "--json"]).await;
    assert_eq!(empty.json(), json!({"tracks": [], "data_channels": []}));

    let labelled = run(
        &env,
        &[
            "sfu",
            "new-session",
            "--correlation-id",
            "debug-1",
            "--third-party",
            "--json",
        ],
    )
    .await;
    assert_eq!(labelled.code, 0, "{}", labelled.stderr);
    let document = labelled.json();
    assert_eq!(keys(&document), ["session_id"]);
    assert_eq!(document["session_id"].as_str().unwrap().len(), 32);
    // The options are in the query (which the fake's record leaves out): as a dry run shows.
    let dry = run(
        &env,
        &[
            "sfu",
            "new-session",
            "--correlation-id",
            "debug-1",
            "--third-party",
            "--dry-run",
            "--json",
        ],
    )
    .await;
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    let url = dry.json()["dry_run"]["url"].as_str().unwrap().to_string();
    assert!(
        url.contains("/sessions/new?")
            && url.contains("correlationId=debug-1")
            && url.contains("thirdparty=true"),
        "{url}"
    );
    assert_eq!(sfu_requests(&fake).len(), 3, "{:?}", sfu_requests(&fake));
    no_secret(&secret, &[&text, &empty, &labelled, &dry]);
}

#[tokio::test]
async fn a_session_id_that_could_leave_its_path_is_refused_before_sending() {
    let (fake, env) = fake().await;
    let (env, _sfu, secret) = app(&fake, &env).await;
    for hostile in ["../x", "..\\x", "a/b", "%2e%2e", "", &"a".repeat(129)] {
        for json in [false, true] {
            let mut args = vec!["sfu", "session", hostile];
            if json {
                args.push("--json");
            }
            let refused = run(&env, &args).await;
            assert_eq!(refused.code, 2, "{hostile:?}: {}", refused.stderr);
            assert!(refused.stdout.is_empty(), "{}", refused.stdout);
            assert!(
                refused.stderr.contains("SFU session ID") && refused.stderr.contains("nothing"),
                "{}",
                refused.stderr
            );
            no_secret(&secret, &[&refused]);
        }
        let dry = run(&env, &["sfu", "session", hostile, "--dry-run"]).await;
        assert_eq!(dry.code, 2, "{hostile:?}: {}", dry.stderr);
    }
    assert!(sfu_requests(&fake).is_empty(), "{:?}", sfu_requests(&fake));
}

#[tokio::test]
async fn the_app_comes_from_the_environment_and_its_secret_is_never_shown() {
    let (fake, env) = fake().await;
    let (env, sfu, secret) = app(&fake, &env).await;
    let session = publishing(&sfu, "mic").await;

    let mut no_secret_env = env.clone();
    no_secret_env.remove("CLOUDFLARE_CALLS_APP_SECRET");
    let missing = run(&no_secret_env, &["sfu", "session", &session]).await;
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    assert_eq!(missing.stderr.lines().count(), 1, "{}", missing.stderr);
    assert!(missing.stderr.contains("CLOUDFLARE_CALLS_APP_SECRET"));
    let missing_new = run(&no_secret_env, &["sfu", "new-session"]).await;
    assert_eq!(missing_new.code, 2, "{}", missing_new.stderr);
    assert!(missing_new.stderr.contains("CLOUDFLARE_CALLS_APP_SECRET"));

    let mut no_app = env.clone();
    let app_id = no_app.remove("CLOUDFLARE_CALLS_APP_ID").unwrap();
    let missing_app = run(&no_app, &["sfu", "session", &session]).await;
    assert_eq!(missing_app.code, 2, "{}", missing_app.stderr);
    assert!(
        missing_app.stderr.contains("CLOUDFLARE_CALLS_APP_ID")
            && missing_app.stderr.contains("--app-id"),
        "{}",
        missing_app.stderr
    );
    let flagged = run(&no_app, &["sfu", "session", &session, "--app-id", &app_id]).await;
    assert_eq!(flagged.code, 0, "{}", flagged.stderr);
    assert!(flagged.stdout.contains("mic"), "{}", flagged.stdout);
    let bad_app = run(&env, &["sfu", "session", &session, "--app-id", "../x"]).await;
    assert_eq!(bad_app.code, 2, "{}", bad_app.stderr);
    assert!(
        bad_app.stderr.contains("Calls app ID"),
        "{}",
        bad_app.stderr
    );

    // A wrong secret is an authentication failure that shows neither secret.
    let mut wrong = env.clone();
    let wrong_secret = "wrong-app-secret-0123456789abcdef";
    wrong.insert("CLOUDFLARE_CALLS_APP_SECRET", wrong_secret.into());
    let denied = run(&wrong, &["sfu", "session", &session]).await;
    assert_eq!(denied.code, 3, "{}", denied.stderr);
    no_secret(wrong_secret, &[&denied]);

    // A dry run shows the request, its bearer redacted, and sends nothing.
    let before = sfu_requests(&fake).len();
    let dry = run(&env, &["sfu", "session", &session, "--dry-run", "--json"]).await;
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    let request = &dry.json()["dry_run"];
    assert_eq!(request["method"], "GET");
    assert!(
        request["url"].as_str().unwrap().ends_with(&session),
        "{request}"
    );
    assert_eq!(request["headers"]["authorization"], "[redacted]");
    let dry_new = run(&env, &["sfu", "new-session", "--dry-run"]).await;
    assert_eq!(dry_new.code, 0, "{}", dry_new.stderr);
    assert!(dry_new.stdout.starts_with("POST "), "{}", dry_new.stdout);
    assert_eq!(sfu_requests(&fake).len(), before);

    let ok = run(&env, &["sfu", "session", &session, "--json"]).await;
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    no_secret(
        &secret,
        &[
            &missing,
            &missing_new,
            &missing_app,
            &flagged,
            &bad_app,
            &denied,
            &dry,
            &dry_new,
            &ok,
        ],
    );
}

/// A track name is server text (any endpoint of the app chooses it): escaped in the table,
/// `\uXXXX` in JSON, the same value once parsed.
#[tokio::test]
async fn a_hostile_track_name_is_printed_escaped() {
    let (fake, env) = fake().await;
    let (env, sfu, _secret) = app(&fake, &env).await;
    let name = "evil\u{202e}name\u{1b}]52;c;cHduZWQ=\u{7}\u{1b}[2J\u{9b}x";
    let session = publishing(&sfu, name).await;

    let table = run(&env, &["sfu", "session", &session]).await;
    assert_eq!(table.code, 0, "{}", table.stderr);
    super::assert_safe(&["sfu", "session"], &table.stdout);
    assert!(!table.stdout.contains('\u{9b}'), "{:?}", table.stdout);
    assert!(
        table.stdout.contains("evil\\u{202e}name\\u{1b}]52"),
        "{}",
        table.stdout
    );
    let document = run(&env, &["sfu", "session", &session, "--json"]).await;
    assert_eq!(document.code, 0, "{}", document.stderr);
    assert!(document.stdout.is_ascii(), "{:?}", document.stdout);
    assert!(document.stdout.contains("evil\\u202ename\\u001b]52"));
    assert_eq!(document.json()["tracks"][0]["track_name"], name);
}

/// `apps-api proxy` serves the library's proxy: a session through it answers with its cookie,
/// a request about it without the cookie is refused, and `--static` serves a page beside it.
#[tokio::test]
async fn the_proxy_command_serves_sessions_and_a_page() {
    use tokio::io::AsyncBufReadExt;
    let (fake, env) = fake().await;
    let (env, _sfu, secret) = app(&fake, &env).await;
    let dir = super::tempdir();
    std::fs::write(dir.join("index.html"), "<p>the page</p>").unwrap();
    let mut child = super::command(&env, env!("CARGO_BIN_EXE_apps-api"))
        .args(["proxy", "--port", "0", "--prefix", "/rtc", "--static"])
        .arg(&dir)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let banner = lines.next_line().await.unwrap().unwrap();
    let mut said = banner.clone();
    while let Ok(Some(line)) = lines.next_line().await {
        said.push_str(&line);
        if line.contains("signed with") {
            break;
        }
    }
    assert!(!said.contains(&secret), "{said}");
    let base = banner
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
        .unwrap()
        .to_string();
    let http = crate::http();
    let created = http
        .post(format!("{base}/sessions/new"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let cookie = created.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cookie.contains("Path=/rtc") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let id = created.json::<serde_json::Value>().await.unwrap()["sessionId"]
        .as_str()
        .unwrap()
        .to_string();
    let refused = http
        .get(format!("{base}/sessions/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let pair = cookie.split(';').next().unwrap().to_string();
    let read = http
        .get(format!("{base}/sessions/{id}"))
        .header("cookie", pair)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let root = base.trim_end_matches("/rtc");
    let page = http.get(format!("{root}/index.html")).send().await.unwrap();
    assert_eq!(page.text().await.unwrap(), "<p>the page</p>");
    child.kill().await.unwrap();
}
