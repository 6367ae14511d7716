//! The `apps-api` binary against the embedded fake: every command's happy path and JSON shape,
//! exit codes, secrets shown only where promised, `--secret-file`, `--dry-run`, help and
//! completions.
#![cfg(feature = "cli")]

use std::collections::HashMap;

use apps_api::fake::{FakeConfig, FakeServer, Fault};
use serde_json::Value;

#[path = "../common/http.rs"]
mod http_client;
mod magic_sites;
mod sfu;

use http_client::http;

const ACCOUNT: &str = apps_api::fake::DEFAULT_ACCOUNT_ID;
const VARIABLES: &[&str] = &[
    "CLOUDFLARE_API_TOKEN",
    "CLOUDFLARE_API_KEY",
    "CLOUDFLARE_EMAIL",
    "CLOUDFLARE_ACCOUNT_ID",
    "CLOUDFLARE_BASE_URL",
    "CLOUDFLARE_REALTIME_BASE_URL",
    "CLOUDFLARE_TURN_KEY",
    "CLOUDFLARE_TURN_KEY_ID",
    "APPS_API_PROXY_KEY",
    "CLOUDFLARE_CALLS_APP_ID",
    "CLOUDFLARE_CALLS_APP_SECRET",
    "HOVER_API_TOKEN",
    "HOVER_EMAIL",
    "HOVER_PASSWORD",
    "HOVER_BASE_URL",
];

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {}", self.stdout))
    }
}

/// The fake, and the environment that points the tool at it.
async fn fake() -> (FakeServer, HashMap<&'static str, String>) {
    let fake = FakeServer::start_with(
        FakeConfig::new()
            .cloudflare_token("cli-test-token-0123456789")
            .hover_login("dev@example.com", "cli-test-password"),
    )
    .await
    .unwrap();
    let env = HashMap::from([
        (
            "CLOUDFLARE_API_TOKEN",
            "cli-test-token-0123456789".to_string(),
        ),
        ("CLOUDFLARE_ACCOUNT_ID", ACCOUNT.to_string()),
        ("CLOUDFLARE_BASE_URL", fake.cloudflare_base_url()),
        ("CLOUDFLARE_REALTIME_BASE_URL", fake.realtime_base_url()),
        ("HOVER_EMAIL", "dev@example.com".to_string()),
        ("HOVER_PASSWORD", "cli-test-password".to_string()),
        ("HOVER_BASE_URL", fake.hover_base_url()),
    ]);
    (fake, env)
}

/// `program` with exactly these variables of ours (none of the caller's credentials).
fn command(env: &HashMap<&'static str, String>, program: &str) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(program);
    for name in VARIABLES {
        command.env_remove(name);
    }
    command.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    command
}

async fn run(env: &HashMap<&'static str, String>, args: &[&str]) -> Run {
    let output = command(env, env!("CARGO_BIN_EXE_apps-api"))
        .args(args)
        .output()
        .await
        .unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

async fn run_with_stdin(env: &HashMap<&'static str, String>, args: &[&str], input: &str) -> Run {
    use tokio::io::AsyncWriteExt;
    let mut child = command(env, env!("CARGO_BIN_EXE_apps-api"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).await.unwrap();
    drop(stdin);
    let output = child.wait_with_output().await.unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

#[tokio::test]
async fn calls_commands_and_their_json() {
    let (fake, env) = fake().await;
    let created = run(&env, &["calls", "create", "--name", "prod", "--json"]).await;
    assert_eq!(created.code, 0, "{}", created.stderr);
    let document = created.json();
    assert_eq!(keys(&document), ["app", "secret"]);
    assert_eq!(
        keys(&document["app"]),
        ["created", "id", "modified", "name"]
    );
    let id = document["app"]["id"].as_str().unwrap().to_string();
    let secret = document["secret"].as_str().unwrap().to_string();
    assert_eq!(secret.len(), 64);

    let listed = run(&env, &["calls", "list", "--json"]).await;
    assert_eq!(listed.json()[0]["id"], id.as_str());
    let table = run(&env, &["calls", "list"]).await;
    assert!(
        table.stdout.starts_with("ID") && table.stdout.contains(&id),
        "{}",
        table.stdout
    );
    let got = run(&env, &["calls", "get", &id, "--json"]).await;
    assert_eq!(got.json()["name"], "prod");
    let updated = run(
        &env,
        &["calls", "update", &id, "--name", "staging", "--json"],
    )
    .await;
    assert_eq!(updated.json()["name"], "staging");
    let deleted = run(&env, &["calls", "delete", &id]).await;
    assert_eq!(deleted.code, 0);
    for output in [&listed, &table, &got, &updated, &deleted] {
        assert!(!output.stdout.contains(&secret) && !output.stderr.contains(&secret));
    }
    let gone = run(&env, &["calls", "get", &id]).await;
    assert_eq!(gone.code, 4, "{}", gone.stderr);
    assert!(gone.stdout.is_empty());
    assert!(
        gone.stderr.contains("cf-ray") && gone.stderr.contains("HTTP 404"),
        "{}",
        gone.stderr
    );
    assert!(fake
        .requests()
        .iter()
        .any(|r| r.operation == "calls-apps-delete-app"));
}

#[tokio::test]
async fn magic_commands_and_their_json() {
    let (_fake, env) = fake().await;
    let created = run(
        &env,
        &[
            "magic",
            "create",
            "--name",
            "Dash",
            "--type",
            "Development",
            "--hostname",
            "a.example",
            "--ip-subnet",
            "192.0.2.0/24",
            "--json",
        ],
    )
    .await;
    assert_eq!(created.code, 0, "{}", created.stderr);
    let app = created.json();
    assert_eq!(
        keys(&app),
        [
            "hostnames",
            "id",
            "ip_subnets",
            "kind",
            "name",
            "source_subnets",
            "type"
        ]
    );
    let id = app["id"].as_str().unwrap().to_string();
    let patched = run(
        &env,
        &[
            "magic",
            "patch",
            &id,
            "--source-subnet",
            "2001:db8::/32",
            "--json",
        ],
    )
    .await;
    assert_eq!(patched.json()["hostnames"][0], "a.example");
    assert_eq!(patched.json()["source_subnets"][0], "2001:db8::/32");
    let replaced = run(
        &env,
        &[
            "magic",
            "update",
            &id,
            "--name",
            "Dash2",
            "--type",
            "Dev",
            "--hostname",
            "b.example",
            "--json",
        ],
    )
    .await;
    assert_eq!(replaced.json()["ip_subnets"], Value::Array(vec![]));
    let listed = run(&env, &["magic", "list", "--json"]).await;
    let items = listed.json();
    let kinds: Vec<&str> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"account") && kinds.contains(&"managed"),
        "{kinds:?}"
    );
    assert_eq!(run(&env, &["magic", "delete", &id]).await.code, 0);
    let bad = run(
        &env,
        &[
            "magic",
            "create",
            "--name",
            "x",
            "--type",
            "t",
            "--ip-subnet",
            "10.0.0.0/08",
        ],
    )
    .await;
    assert_eq!(bad.code, 2, "{}", bad.stderr);
}

#[tokio::test]
async fn hover_commands_show_secrets_only_on_create() {
    let (_fake, env) = fake().await;
    let created = run(
        &env,
        &[
            "hover",
            "create",
            "--name",
            "App",
            "--package",
            "com.example.app",
            "--webhook-url",
            "https://x.example",
        ],
    )
    .await;
    assert_eq!(created.code, 0, "{}", created.stderr);
    let labelled: Vec<&str> = created
        .stdout
        .lines()
        .filter(|l| l.contains("(shown only this once"))
        .collect();
    assert_eq!(labelled.len(), 2, "{}", created.stdout);
    let token = labelled[0].rsplit(": ").next().unwrap().to_string();
    let webhook_secret = labelled[1].rsplit(": ").next().unwrap().to_string();
    let id = created
        .stdout
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();

    let got = run(&env, &["hover", "get", &id, "--json"]).await;
    assert_eq!(got.code, 0, "{}", got.stderr);
    let app = got.json();
    assert!(
        app.get("token").is_none() && app.get("webhook_secret").is_none(),
        "{app}"
    );
    let updated = run(
        &env,
        &["hover", "update", &id, "--clear-webhook-url", "--json"],
    )
    .await;
    assert_eq!(updated.json()["webhook_url"], Value::Null);
    let archived = run(&env, &["hover", "archive", &id, "--json"]).await;
    assert_eq!(
        archived.json(),
        serde_json::json!({"id": id.parse::<i64>().unwrap(), "archived": true})
    );
    let restored = run(&env, &["hover", "restore", &id, "--json"]).await;
    assert_eq!(restored.json()["archived_at"], Value::Null);
    for output in [&got, &updated, &archived, &restored] {
        let all = format!("{}{}", output.stdout, output.stderr);
        assert!(
            !all.contains(&token)
                && !all.contains(&webhook_secret)
                && !all.contains("cli-test-password")
        );
    }
    let missing = run(&env, &["hover", "get", "999999"]).await;
    assert_eq!(missing.code, 4);
}

#[tokio::test]
async fn turn_keys_and_credentials() {
    let (fake, env) = fake().await;
    let dir = tempdir();
    let key_file = dir.join("turn.key");
    let created = run(
        &env,
        &[
            "turn-keys",
            "create",
            "--name",
            "k",
            "--secret-file",
            key_file.to_str().unwrap(),
            "--json",
        ],
    )
    .await;
    assert_eq!(created.code, 0, "{}", created.stderr);
    let document = created.json();
    assert_eq!(
        keys(&document),
        ["turn_key"],
        "the key went to the file, not stdout"
    );
    let id = document["turn_key"]["id"].as_str().unwrap().to_string();
    let stored: Value = serde_json::from_str(&std::fs::read_to_string(&key_file).unwrap()).unwrap();
    let key = stored["key"].as_str().unwrap().to_string();
    assert_eq!(key.len(), 64);
    assert!(!created.stderr.contains(&key));

    let listed = run(&env, &["turn-keys", "list", "--json"]).await;
    assert_eq!(listed.json()[0]["id"], id.as_str());
    let renamed = run(
        &env,
        &["turn-keys", "update", &id, "--name", "renamed", "--json"],
    )
    .await;
    assert_eq!(renamed.json()["name"], "renamed");

    let minted = run(
        &env,
        &[
            "turn",
            "credentials",
            &id,
            "--ttl",
            "1h",
            "--key-file",
            key_file.to_str().unwrap(),
            "--json",
        ],
    )
    .await;
    assert_eq!(minted.code, 0, "{}", minted.stderr);
    let ice = minted.json();
    assert_eq!(keys(&ice), ["expires_at", "iceServers"]);
    let urls: Vec<&str> = ice["iceServers"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["urls"].as_array().unwrap())
        .map(|u| u.as_str().unwrap())
        .collect();
    assert!(
        urls.iter()
            .all(|u| !u.ends_with(":53") && !u.contains(":53?")),
        "{urls:?}"
    );
    let username = ice["iceServers"][1]["username"]
        .as_str()
        .unwrap()
        .to_string();
    let mut env_with_key = env.clone();
    env_with_key.insert("CLOUDFLARE_TURN_KEY", key.clone());
    // The username comes from stdin or a file, never argv (which `ps` shows everyone).
    let revoked = run_with_stdin(
        &env_with_key,
        &["turn", "revoke", &id, "--json"],
        &format!("{username}\n"),
    )
    .await;
    assert_eq!(
        (revoked.code, revoked.json()),
        (0, serde_json::json!({"revoked": true})),
        "{}",
        revoked.stderr
    );
    let piped = run_with_stdin(&env_with_key, &["turn", "revoke", &id], &minted.stdout).await;
    assert_eq!(
        piped.code, 0,
        "the JSON of `turn credentials` piped in: {}",
        piped.stderr
    );
    let creds_file = dir.join("creds.json");
    std::fs::write(&creds_file, minted.stdout.as_bytes()).unwrap();
    let revoked = run(
        &env_with_key,
        &[
            "turn",
            "revoke",
            &id,
            "--username-file",
            creds_file.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(revoked.code, 0, "{}", revoked.stderr);
    let as_argument = run(&env_with_key, &["turn", "revoke", &id, &username]).await;
    assert_eq!(as_argument.code, 2, "{}", as_argument.stderr);
    let revokes: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.operation == "turn-revoke-credential")
        .collect();
    assert_eq!(revokes.len(), 3);
    assert!(revokes.iter().all(|r| r.path.contains(&username)));
    let too_long = run(&env_with_key, &["turn", "credentials", &id, "--ttl", "49h"]).await;
    assert_eq!(too_long.code, 2, "{}", too_long.stderr);
    let no_key = run(&env, &["turn", "credentials", &id, "--ttl", "1h"]).await;
    assert_eq!(no_key.code, 2);
    assert!(
        no_key.stderr.contains("CLOUDFLARE_TURN_KEY"),
        "{}",
        no_key.stderr
    );
    assert_eq!(run(&env, &["turn-keys", "delete", &id]).await.code, 0);
    assert!(fake
        .requests()
        .iter()
        .any(|r| r.operation == "turn-revoke-credential"));
}

/// A temporary directory of this test run, removed by nobody (under target/).
fn tempdir() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("cli-{}", fastrand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn fastrand_suffix() -> String {
    format!(
        "{:x}{:x}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

#[tokio::test]
async fn secret_files_are_private_new_and_the_only_place_the_secret_goes() {
    let (fake, env) = fake().await;
    let dir = tempdir();
    let file = dir.join("calls.secret");
    let created = run(
        &env,
        &[
            "calls",
            "create",
            "--name",
            "p",
            "--secret-file",
            file.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(created.code, 0, "{}", created.stderr);
    let stored: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let secret = stored["secret"].as_str().unwrap();
    assert_eq!(secret.len(), 64);
    assert!(!created.stdout.contains(secret) && !created.stderr.contains(secret));
    assert!(!created.stdout.contains("shown only this once"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // Never overwritten, and nothing is created when the file cannot be made.
    let before = fake.requests().len();
    let again = run(
        &env,
        &["calls", "create", "--secret-file", file.to_str().unwrap()],
    )
    .await;
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert_eq!(fake.requests().len(), before, "no request was sent");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        serde_json::to_string_pretty(&stored).unwrap() + "\n"
    );
    // A create that fails leaves no file behind.
    fake.inject_fault("calls-apps-create-a-new-app", 1, Fault::Status(500))
        .unwrap();
    let failed_file = dir.join("failed.secret");
    let failed = run(
        &env,
        &[
            "calls",
            "create",
            "--secret-file",
            failed_file.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(!failed_file.exists());
}

#[tokio::test]
async fn dry_run_sends_nothing() {
    let (fake, env) = fake().await;
    for args in [
        &["calls", "create", "--name", "x", "--dry-run"][..],
        &[
            "magic",
            "delete",
            "ac60d3d0435248289d446cedd870bcf4",
            "--dry-run",
            "--json",
        ],
        &[
            "hover",
            "create",
            "--name",
            "n",
            "--package",
            "p",
            "--dry-run",
        ],
        &["turn-keys", "list", "--dry-run"],
    ] {
        let output = run(&env, args).await;
        assert_eq!(output.code, 0, "{args:?}: {}", output.stderr);
        let all = format!("{}{}", output.stdout, output.stderr);
        assert!(
            !all.contains("cli-test-token") && !all.contains("cli-test-password"),
            "{all}"
        );
        assert!(output.stdout.contains("http://127.0.0.1:"), "{all}");
    }
    let json = run(
        &env,
        &[
            "calls",
            "get",
            "2a95132c15732412d22c1476fa83f27a",
            "--dry-run",
            "--json",
        ],
    )
    .await;
    let request = &json.json()["dry_run"];
    assert_eq!(request["method"], "GET");
    assert_eq!(request["headers"]["authorization"], "[redacted]");
    // A dry run makes no secret file (one that exists is no obstacle, and is left alone).
    let dir = tempdir();
    let existing = dir.join("existing.secret");
    std::fs::write(&existing, "kept").unwrap();
    for file in [&existing, &dir.join("new.secret")] {
        let output = run(
            &env,
            &[
                "calls",
                "create",
                "--dry-run",
                "--secret-file",
                file.to_str().unwrap(),
            ],
        )
        .await;
        assert_eq!(output.code, 0, "{}", output.stderr);
    }
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "kept");
    assert!(!dir.join("new.secret").exists());
    assert!(
        fake.requests().is_empty(),
        "the fake received {:?}",
        fake.requests()
    );
}

#[tokio::test]
async fn exit_codes() {
    let (fake, env) = fake().await;
    let mut wrong = env.clone();
    wrong.insert("CLOUDFLARE_API_TOKEN", "wrong-token".into());
    assert_eq!(run(&wrong, &["calls", "list"]).await.code, 3);
    let mut wrong_hover = env.clone();
    wrong_hover.insert("HOVER_PASSWORD", "wrong".into());
    let denied = run(&wrong_hover, &["hover", "get", "1"]).await;
    assert_eq!(denied.code, 3, "{}", denied.stderr);
    assert!(
        !denied.stderr.contains("cli-test-password"),
        "{}",
        denied.stderr
    );

    let mut missing = env.clone();
    missing.remove("CLOUDFLARE_API_TOKEN");
    let output = run(&missing, &["calls", "list"]).await;
    assert_eq!(output.code, 2);
    assert_eq!(output.stderr.lines().count(), 1, "{}", output.stderr);
    assert!(output.stderr.contains("CLOUDFLARE_API_TOKEN"));
    let mut no_account = env.clone();
    no_account.remove("CLOUDFLARE_ACCOUNT_ID");
    let output = run(&no_account, &["calls", "list"]).await;
    assert_eq!(output.code, 2);
    assert!(output.stderr.contains("CLOUDFLARE_ACCOUNT_ID") && output.stderr.contains("--account"));
    assert_eq!(
        run(&no_account, &["calls", "list", "--account", ACCOUNT])
            .await
            .code,
        0
    );

    fake.inject_fault(
        "calls-apps-list",
        1,
        Fault::RateLimited {
            retry_after: Some(std::time::Duration::from_secs(600)),
        },
    )
    .unwrap();
    assert_eq!(run(&env, &["calls", "list"]).await.code, 5);
    fake.inject_fault("magic-account-apps-list-apps", 3, Fault::Status(500))
        .unwrap();
    assert_eq!(run(&env, &["magic", "list"]).await.code, 1);
    assert_eq!(run(&env, &["calls", "get", "../../zones"]).await.code, 2);
    assert_eq!(run(&env, &["calls", "nope"]).await.code, 2);
    assert_eq!(
        run(
            &env,
            &["calls", "list", "--base-url", "http://api.example.com"]
        )
        .await
        .code,
        2
    );
}

#[tokio::test]
async fn every_command_has_help_with_an_example_and_completions_exist() {
    let env = HashMap::new();
    for command in [
        &["calls", "list"][..],
        &["calls", "get"],
        &["calls", "create"],
        &["calls", "update"],
        &["calls", "delete"],
        &["magic", "list"],
        &["magic", "create"],
        &["magic", "update"],
        &["magic", "patch"],
        &["magic", "delete"],
        &["hover", "create"],
        &["hover", "get"],
        &["hover", "update"],
        &["hover", "archive"],
        &["hover", "restore"],
        &["turn-keys", "list"],
        &["turn-keys", "get"],
        &["turn-keys", "create"],
        &["turn-keys", "update"],
        &["turn-keys", "delete"],
        &["turn", "credentials"],
        &["turn", "revoke"],
        &["sfu"],
        &["sfu", "session"],
        &["sfu", "new-session"],
        &["completions"],
        &[],
    ] {
        let mut args = command.to_vec();
        args.push("--help");
        let output = run(&env, &args).await;
        assert_eq!(output.code, 0, "{command:?}: {}", output.stderr);
        assert!(
            output.stdout.contains("Example"),
            "{command:?}: {}",
            output.stdout
        );
    }
    let fake_help = run(&env, &["fake", "--help"]).await;
    assert_eq!(fake_help.code, 0);
    assert!(
        fake_help.stdout.to_lowercase().contains("example"),
        "{}",
        fake_help.stdout
    );
    let bash = run(&env, &["completions", "bash"]).await;
    assert!(
        bash.code == 0
            && bash.stdout.contains("apps-api")
            && bash.stdout.contains("turn-keys")
            && bash.stdout.contains("new-session")
            && bash.stdout.contains("--app-id")
    );
}

/// Each command lists and takes only the flags that mean something to it: the API commands
/// `--json`, `--dry-run` and `--base-url` (after the command or its group), an account's APIs
/// `--account` too; `fake`, `proxy` and `completions` none of them, refused as usage errors.
#[tokio::test]
async fn each_command_takes_only_the_flags_that_mean_something_to_it() {
    let env = HashMap::new();
    let flags = ["--json", "--dry-run", "--base-url", "--account"];
    let cases: [(&[&str], &[&str]); 9] = [
        (&["calls", "list"], &flags),
        (&["magic", "patch"], &flags),
        (&["turn-keys", "create"], &flags),
        (&["hover", "get"], &flags[..3]),
        (&["turn", "credentials"], &flags[..3]),
        (&["sfu", "session"], &flags[..3]),
        (&["fake"], &[]),
        (&["proxy"], &[]),
        (&["completions"], &[]),
    ];
    for (command, takes) in cases {
        let help = run(&env, &[command, &["--help"]].concat()).await;
        assert_eq!(help.code, 0, "{command:?}: {}", help.stderr);
        for flag in flags {
            assert_eq!(
                help.stdout.contains(flag),
                takes.contains(&flag),
                "{command:?} and {flag}: {}",
                help.stdout
            );
        }
    }
    for command in [
        &["fake", "--dry-run"][..],
        &["proxy", "--account", "a"],
        &["fake", "--json"],
    ] {
        let refused = run(&env, command).await;
        assert_eq!(refused.code, 2, "{command:?}: {}", refused.stderr);
        assert!(
            refused.stderr.contains("unexpected argument"),
            "{}",
            refused.stderr
        );
    }
    let env = HashMap::from([(
        "CLOUDFLARE_API_TOKEN",
        "dry-run-token-0123456789".to_string(),
    )]);
    let group_flag = run(&env, &["calls", "--dry-run", "--account", ACCOUNT, "list"]).await;
    assert_eq!(group_flag.code, 0, "{}", group_flag.stderr);
    assert!(group_flag.stdout.contains(ACCOUNT), "{}", group_flag.stdout);
    let misplaced = run(&env, &["hover", "get", "1", "--account", ACCOUNT]).await;
    assert_eq!(misplaced.code, 2, "{}", misplaced.stderr);
}

/// An account given at a command group's level (`calls --account X list`) is checked as an
/// account ID wherever the flag is written: hostile text is a usage error and nothing is sent.
#[tokio::test]
async fn a_hostile_account_at_the_groups_level_sends_nothing() {
    let (fake, env) = fake().await;
    let before = fake.requests().len();
    for hostile in ["../zones", "023e105f?x=1", "a/b", "%2e%2e", ""] {
        for args in [
            vec!["calls", "--account", hostile, "list"],
            vec!["magic", "list", "--account", hostile],
            vec!["turn-keys", "--account", hostile, "--dry-run", "list"],
        ] {
            let refused = run(&env, &args).await;
            assert_eq!(refused.code, 2, "{args:?}: {}", refused.stderr);
        }
    }
    assert_eq!(fake.requests().len(), before, "a request was sent");
}

/// Server text (a name anyone on the account can set) never reaches the terminal raw: every
/// kind of item is created with a hostile name, and every command that shows it is checked.
#[tokio::test]
async fn server_text_cannot_drive_the_terminal() {
    let (_fake, env) = fake().await;
    let dir = tempdir();
    let hostile = "\u{1b}]52;c;cHduZWQ=\u{7}\u{1b}[2J\u{202e}evil";
    let secret_file = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let creates: Vec<Vec<String>> = vec![
        vec![
            "turn-keys".into(),
            "create".into(),
            "--name".into(),
            hostile.into(),
            "--secret-file".into(),
            secret_file("k"),
        ],
        vec![
            "calls".into(),
            "create".into(),
            "--name".into(),
            hostile.into(),
            "--secret-file".into(),
            secret_file("c"),
        ],
        vec![
            "magic".into(),
            "create".into(),
            "--name".into(),
            hostile.into(),
            "--type".into(),
            hostile.into(),
            "--hostname".into(),
            "a.example".into(),
        ],
        vec![
            "hover".into(),
            "create".into(),
            "--name".into(),
            hostile.into(),
            "--package".into(),
            "p".into(),
            "--secret-file".into(),
            secret_file("h"),
        ],
    ];
    for args in &creates {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let created = run(&env, &args).await;
        assert_eq!(created.code, 0, "{args:?}: {}", created.stderr);
        assert_safe(&args, &created.stdout);
    }
    for args in [
        &["turn-keys", "list"][..],
        &["calls", "list"],
        &["magic", "list"],
        &["hover", "get", "43120"],
    ] {
        let listed = run(&env, args).await;
        assert_eq!(listed.code, 0, "{args:?}: {}", listed.stderr);
        assert_safe(args, &listed.stdout);
        // The hostile name is there, escaped.
        assert!(
            listed.stdout.contains("\\u{1b}]52"),
            "{args:?}: {}",
            listed.stdout
        );
    }
}

/// No character a terminal acts on: escapes, BEL, bidi overrides.
fn assert_safe(args: &[&str], out: &str) {
    assert!(
        !out.contains('\u{1b}') && !out.contains('\u{7}') && !out.contains('\u{202e}'),
        "{args:?}: {out:?}"
    );
}

/// A secret file that cannot be written after the create succeeded: the secret goes to stderr,
/// labelled, the file is removed, and the exit code is 1. The tool ignores SIGXFSZ itself (a
/// file-size limit used to kill it, exit 153, with an empty file and the secret lost).
#[cfg(unix)]
#[tokio::test]
async fn a_secret_file_that_cannot_be_written_does_not_lose_the_secret() {
    let (fake, env) = fake().await;
    let dir = tempdir();
    let file = dir.join("full.secret");
    // A file-size limit of zero makes every write to a file fail (EFBIG, or SIGXFSZ).
    let mut command = command(&env, "sh");
    command.args([
        "-c",
        "ulimit -f 0; exec \"$0\" \"$@\"",
        env!("CARGO_BIN_EXE_apps-api"),
        "calls",
        "create",
        "--secret-file",
        file.to_str().unwrap(),
    ]);
    let output = command.output().await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let secret = created_secret(&fake).expect("the create happened");
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "secret (shown only this once, store it now): {secret}"
        )),
        "{stderr}"
    );
    assert!(!file.exists());
}

/// The secret the fake's Calls create answered with, if it answered one.
fn created_secret(fake: &FakeServer) -> Option<String> {
    fake.requests()
        .iter()
        .find(|r| r.operation == "calls-apps-create-a-new-app")
        .and_then(|r| {
            r.response.as_ref()?["result"]["secret"]
                .as_str()
                .map(str::to_owned)
        })
}

/// Waits until the fake has taken the fault queued for `operation`: the request reached it.
async fn until_fault_taken(fake: &FakeServer, operation: &str) {
    for _ in 0..2_000 {
        if fake.pending_faults(operation) == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    panic!("the request never reached the fake");
}

/// A stdout that closes after the create was sent (the reader of a pipe left): the write
/// fails, so the exit code is 1, and the secret, and only it, goes to stderr, labelled.
#[tokio::test]
async fn a_stdout_closed_after_the_create_does_not_lose_the_secret() {
    let (fake, env) = fake().await;
    fake.inject_fault(
        "calls-apps-create-a-new-app",
        1,
        Fault::Stall(std::time::Duration::from_millis(300)),
    )
    .unwrap();
    let mut child = command(&env, env!("CARGO_BIN_EXE_apps-api"))
        .args(["calls", "create", "--name", "t", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    until_fault_taken(&fake, "calls-apps-create-a-new-app").await;
    drop(child.stdout.take());
    let output = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let secret = created_secret(&fake).expect("the create happened");
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.matches(&secret).count(), 1, "{stderr}");
    assert!(
        !stderr.contains("\"app\"") && !stderr.contains("\"name\""),
        "only the secret goes to stderr: {stderr}"
    );
    // With the ID of what it belongs to.
    let id = fake
        .requests()
        .iter()
        .find(|r| r.operation == "calls-apps-create-a-new-app")
        .and_then(|r| {
            r.response.as_ref()?["result"]["uid"]
                .as_str()
                .map(str::to_owned)
        })
        .unwrap();
    assert!(stderr.contains(&format!("(id {id})")), "{stderr}");
}

/// `> /dev/full`: every failed write of the result is exit code 1, for every command; a create
/// is refused before it is sent, as /dev/full would lose its secret.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_full_stdout_is_an_error() {
    let (fake, env) = fake().await;
    let full = |args: &[&str]| {
        let mut command = command(&env, "sh");
        command
            .args(["-c", "exec \"$0\" \"$@\" > /dev/full"])
            .arg(env!("CARGO_BIN_EXE_apps-api"))
            .args(args);
        command
    };
    let output = full(&["calls", "create", "--name", "t", "--json"])
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(created_secret(&fake).is_none(), "nothing was sent");
    for args in [&["calls", "list"][..], &["calls", "list", "--json"]] {
        let output = full(args).output().await.unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains("could not write the output"), "{stderr}");
    }
}

/// A closed stdout (`>&-`, which the Rust runtime reopens as `/dev/null`) or `> /dev/null`
/// would swallow a one-time secret: the create is refused before anything is sent (exit 2).
#[cfg(unix)]
#[tokio::test]
async fn a_stdout_that_discards_is_refused_before_a_create() {
    let (fake, env) = fake().await;
    for redirect in [">&-", "> /dev/null", "> /dev/zero"] {
        for create in [&["calls", "create"][..], &["turn-keys", "create", "--json"]] {
            let output = command(&env, "sh")
                .args(["-c", &format!("exec \"$0\" \"$@\" {redirect}")])
                .arg(env!("CARGO_BIN_EXE_apps-api"))
                .args(create)
                .output()
                .await
                .unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(
                output.status.code(),
                Some(2),
                "{redirect} {create:?}: {stderr}"
            );
            assert!(stderr.contains("--secret-file"), "{stderr}");
        }
    }
    assert!(fake.requests().is_empty(), "nothing was sent");
    // With a secret file, stdout may go anywhere.
    let dir = tempdir();
    let output = command(&env, "sh")
        .args(["-c", "exec \"$0\" \"$@\" > /dev/null"])
        .arg(env!("CARGO_BIN_EXE_apps-api"))
        .args(["calls", "create", "--secret-file"])
        .arg(dir.join("s"))
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
}

fn signal(child: &tokio::process::Child, name: &str) {
    let pid = child.id().unwrap().to_string();
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Ctrl-C or SIGTERM after a create was sent: the tool finishes writing what the create
/// returned (here to the secret file), then exits with the signal's code. A second one forces
/// it out, saying what was lost, and leaves no empty secret file.
#[cfg(unix)]
#[tokio::test]
async fn a_signal_after_a_create_was_sent_does_not_lose_the_secret() {
    let (fake, env) = fake().await;
    let dir = tempdir();
    // The create stalls long enough for the signals to arrive while it is in flight, even on a
    // loaded machine (they are sent as soon as it reaches the fake); the last case abandons it.
    for (signals, code, stall) in [
        (&["TERM"][..], 143, 4),
        (&["HUP"], 129, 4),
        (&["INT"], 130, 4),
        (&["INT", "INT"], 130, 60),
    ] {
        fake.inject_fault(
            "calls-apps-create-a-new-app",
            1,
            Fault::Stall(std::time::Duration::from_secs(stall)),
        )
        .unwrap();
        let file = dir.join(format!("{}.secret", signals.join("-")));
        let mut child = command(&env, env!("CARGO_BIN_EXE_apps-api"))
            .args(["calls", "create", "--secret-file"])
            .arg(&file)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        until_fault_taken(&fake, "calls-apps-create-a-new-app").await;
        let mut stderr = tokio::io::BufReader::new(child.stderr.take().unwrap());
        for name in signals {
            signal(&child, name);
            // The next signal only once this one was seen: it says so on a line of its own.
            use tokio::io::AsyncBufReadExt;
            let mut said = String::new();
            stderr.read_line(&mut said).await.unwrap();
            assert!(said.contains("interrupted"), "{signals:?}: {said}");
        }
        let status = child.wait().await.unwrap();
        assert_eq!(status.code(), Some(code), "{signals:?}");
        if signals.len() == 1 {
            let stored: Value =
                serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
            assert_eq!(stored["secret"].as_str().unwrap().len(), 64);
        } else {
            assert!(!file.exists(), "no empty secret file is left behind");
        }
    }
    // Before anything is sent, the first signal ends the command at once.
    fake.inject_fault(
        "calls-apps-list",
        1,
        Fault::Stall(std::time::Duration::from_secs(30)),
    )
    .unwrap();
    let child = command(&env, env!("CARGO_BIN_EXE_apps-api"))
        .args(["calls", "list"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    until_fault_taken(&fake, "calls-apps-list").await;
    signal(&child, "INT");
    let output = child.wait_with_output().await.unwrap();
    assert_eq!(output.status.code(), Some(130));
}

/// `--json` escapes what serde leaves raw (DEL, C1 controls such as CSI, bidi overrides,
/// invisible characters) as `\uXXXX`: valid JSON with the same value, nothing a terminal acts
/// on. Table cells are cut to a readable width; `--json` keeps the whole value.
#[tokio::test]
async fn json_output_escapes_terminal_controls_and_tables_cut_long_cells() {
    let (_fake, env) = fake().await;
    let hostile = "a\u{9b}2Jb\u{7f}c\u{202e}d\u{200b}e\u{e0041}f";
    let long = "n".repeat(5_000);
    for name in [hostile, long.as_str()] {
        let created = run(&env, &["turn-keys", "create", "--name", name, "--json"]).await;
        assert_eq!(created.code, 0, "{}", created.stderr);
    }
    let listed = run(&env, &["turn-keys", "list", "--json"]).await;
    assert!(listed.stdout.is_ascii(), "{:?}", listed.stdout);
    for escaped in ["\\u009b", "\\u007f", "\\u202e", "\\u200b", "\\udb40\\udc41"] {
        assert!(
            listed.stdout.contains(escaped),
            "{escaped}: {}",
            listed.stdout
        );
    }
    let names: Vec<String> = listed
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap().to_string())
        .collect();
    assert!(names.contains(&hostile.to_string()) && names.contains(&long));
    let table = run(&env, &["turn-keys", "list"]).await;
    assert!(
        table.stdout.lines().all(|l| l.chars().count() < 300),
        "{}",
        table.stdout
    );
    assert!(table.stdout.contains('…'));
    assert!(!table.stdout.contains('\u{9b}') && !table.stdout.contains('\u{202e}'));
}

/// A one-time secret holding control characters is printed exactly: in a table as a JSON
/// string that says so (not escaped silently into something that is not the secret).
#[tokio::test]
async fn a_secret_with_control_characters_is_shown_exactly() {
    let server = httpmock::MockServer::start_async().await;
    let secret = "se\u{1b}[2Jcr\u{9b}et";
    server
        .mock_async(|when, then| {
            when.method(httpmock::Method::POST);
            then.status(201).json_body(serde_json::json!({
                "success": true, "errors": [], "messages": [],
                "result": {"uid": "2a95132c15732412d22c1476fa83f27a", "name": "t", "secret": secret}
            }));
        })
        .await;
    let env = HashMap::from([
        (
            "CLOUDFLARE_API_TOKEN",
            "cli-test-token-0123456789".to_string(),
        ),
        ("CLOUDFLARE_ACCOUNT_ID", ACCOUNT.to_string()),
        (
            "CLOUDFLARE_BASE_URL",
            format!("{}/client/v4", server.base_url()),
        ),
    ]);
    let table = run(&env, &["calls", "create"]).await;
    assert_eq!(table.code, 0, "{}", table.stderr);
    assert!(!table.stdout.contains('\u{1b}') && !table.stdout.contains('\u{9b}'));
    let line = table
        .stdout
        .lines()
        .find(|l| l.starts_with("secret"))
        .unwrap();
    assert!(line.contains("JSON string"), "{line}");
    let quoted = &line[line.find('"').unwrap()..];
    assert_eq!(serde_json::from_str::<String>(quoted).unwrap(), secret);
    let json = run(&env, &["calls", "create", "--json"]).await;
    assert_eq!(json.json()["secret"], secret);
}
