//! The TURN credentials commands: `turn credentials|revoke`, with a TURN key's own token (never
//! the account's), read from a file or the environment, never from argv.

use apps_api::cloudflare::turn::TurnCredentials;
use apps_api::{Error, Secret, TurnKeyId, TurnUsername};
use serde_json::{json, Value};

use super::args::{Global, Turn};
use super::{output, with_secrets, Failure};

/// The TURN key's token: from `--key-file`, else `CLOUDFLARE_TURN_KEY` (never a flag's value,
/// which other users of the machine could read in the process list).
fn turn_key_token(key_file: Option<&std::path::Path>) -> Result<Secret, Error> {
    if let Some(path) = key_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::Config(format!("cannot read the key file {}: {e}", path.display()))
        })?;
        // The file `turn-keys create --secret-file` writes, or the bare token.
        let token = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v.get("key").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| text.trim().to_string());
        return Ok(Secret::new(token));
    }
    match std::env::var("CLOUDFLARE_TURN_KEY") {
        Ok(token) if !token.trim().is_empty() => Ok(Secret::new(token.trim())),
        _ => Err(Error::Config(
            "CLOUDFLARE_TURN_KEY is not set (or pass --key-file)".into(),
        )),
    }
}

/// The TURN username to revoke: from `--username-file` (the JSON `turn credentials` writes,
/// with `--secret-file` or `--json`, or the bare username), else from stdin, which must not be
/// a terminal (it would echo the username). Never an argument: the username names the
/// allocation, and argv is readable by every user of the machine (`ps`, `/proc/*/cmdline`).
/// At most 64 KiB are read.
async fn turn_username(file: Option<std::path::PathBuf>) -> Result<String, Error> {
    const LIMIT: u64 = 64 * 1024;
    let read = tokio::task::spawn_blocking(move || {
        use std::io::{IsTerminal, Read};
        let mut text = String::new();
        let read = match &file {
            Some(path) => std::fs::File::open(path)
                .and_then(|f| f.take(LIMIT).read_to_string(&mut text))
                .map_err(|e| format!("cannot read the username file {}: {e}", path.display())),
            None if std::io::stdin().is_terminal() => Err(
                "give the TURN username on stdin from a pipe or a file (`< creds.json`), or with \
                 --username-file; it is not read from a terminal, which would show it"
                    .to_string(),
            ),
            None => std::io::stdin()
                .lock()
                .take(LIMIT)
                .read_to_string(&mut text)
                .map_err(|e| format!("cannot read the username from stdin: {e}")),
        };
        read.map(|_| text)
    })
    .await
    .map_err(|e| Error::Config(format!("cannot read the username: {e}")))?;
    let text = read.map_err(Error::Config)?;
    let from_json = serde_json::from_str::<Value>(&text).ok().and_then(|v| {
        v["iceServers"]
            .as_array()?
            .iter()
            .find_map(|s| s["username"].as_str().map(str::to_owned))
    });
    let username = from_json.unwrap_or_else(|| text.trim().to_string());
    if username.is_empty() {
        return Err(Error::InvalidArgument(
            "no TURN username: give it on stdin or with --username-file".into(),
        ));
    }
    Ok(username)
}

fn turn_client(
    key_id: String,
    key_file: Option<&std::path::Path>,
    global: &Global,
) -> Result<TurnCredentials, Error> {
    let key_id = TurnKeyId::parse(key_id)?;
    let mut builder = TurnCredentials::builder(key_id, turn_key_token(key_file)?);
    let base_url = global.base_url.clone().or_else(|| {
        std::env::var("CLOUDFLARE_REALTIME_BASE_URL")
            .ok()
            .filter(|v| !v.trim().is_empty())
    });
    if let Some(url) = base_url {
        builder = builder.base_url(url);
    }
    builder.build()
}

/// The username and credential of the first ICE server that has them, labelled.
fn credentials(ice: &apps_api::cloudflare::turn::IceServers) -> Vec<(&'static str, &str)> {
    let Some(server) = ice.ice_servers.iter().find(|s| s.username.is_some()) else {
        return Vec::new();
    };
    [
        ("username", &server.username),
        ("credential", &server.credential),
    ]
    .into_iter()
    .filter_map(|(label, value)| Some((label, value.as_ref()?.expose())))
    .collect()
}

pub async fn turn(command: Turn, global: &Global) -> Result<(), Failure> {
    match command {
        Turn::Credentials {
            key_id,
            ttl,
            key_file,
            keep_port_53,
            secret,
        } => {
            let turn = turn_client(key_id, key_file.as_deref(), global)?;
            with_secrets(
                secret.secret_file.as_deref(),
                global,
                |mut sink| async move {
                    let outcome = async {
                        let mut ice = turn.ice_servers(ttl).await?;
                        if !keep_port_53 {
                            ice = ice.without_port_53();
                        }
                        sink.write(&output::ice_json(&ice));
                        if sink.to_file() {
                            if global.json {
                                output::json(&json!({"expires_at": ice.expires_at}));
                            } else {
                                output::line(&format!("expires at {}", ice.expires_at));
                            }
                        } else if global.json {
                            // The credential is what this command is for: it is the output.
                            for (label, value) in credentials(&ice) {
                                output::holds_secret(label, value);
                            }
                            output::json(&output::ice_json(&ice));
                        } else {
                            for server in &ice.ice_servers {
                                for url in &server.urls {
                                    output::line(url);
                                }
                            }
                            for (label, value) in credentials(&ice) {
                                output::labelled_secret(label, value);
                            }
                            output::line("");
                            output::line(&format!("expires at {}", ice.expires_at));
                        }
                        Ok(())
                    }
                    .await;
                    (sink, outcome)
                },
            )
            .await
        }
        Turn::Revoke {
            key_id,
            username_file,
            key_file,
        } => {
            let turn = turn_client(key_id, key_file.as_deref(), global)?;
            let username = turn_username(username_file).await?;
            turn.revoke(&TurnUsername::parse(username)?).await?;
            if global.json {
                output::json(&json!({"revoked": true}));
            } else {
                output::line("revoked");
            }
            Ok(())
        }
    }
}
