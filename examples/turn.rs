//! TURN credentials for a browser, as a backend mints them: one TURN key, created once and
//! stored; per user, short-lived ICE servers handed to the browser as JSON; revoked on logout.
//!
//! ```sh
//! # Once (account token): create a key and store what it prints.
//! CLOUDFLARE_API_TOKEN=… CLOUDFLARE_ACCOUNT_ID=… cargo run --example turn -- create-key
//! # Per user (the key only, no account token): credentials for one browser session.
//! CLOUDFLARE_TURN_KEY_ID=… CLOUDFLARE_TURN_KEY=… cargo run --example turn -- for-browser
//! # On logout:
//! CLOUDFLARE_TURN_KEY_ID=… CLOUDFLARE_TURN_KEY=… cargo run --example turn -- revoke USERNAME
//! ```
//! `CLOUDFLARE_BASE_URL` and `CLOUDFLARE_REALTIME_BASE_URL` point it elsewhere (the fake
//! server: `apps-api fake`).

use std::time::Duration;

use apps_api::cloudflare::turn::TurnCredentials;
use apps_api::cloudflare::CloudflareClient;
use apps_api::{Error, TurnUsername};

/// How long one browser session's credential lives (at most 48 hours).
const SESSION: Duration = Duration::from_secs(2 * 60 * 60);

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["create-key"] => create_key().await,
        ["for-browser"] => for_browser().await,
        ["revoke", username] => revoke(username).await,
        _ => {
            eprintln!("usage: turn create-key | for-browser | revoke USERNAME");
            return std::process::ExitCode::from(2);
        }
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Once, with the account token: a TURN key. Its token is shown only in this answer, so this
/// is the moment to put it in your secret store.
async fn create_key() -> Result<(), Error> {
    let cf = CloudflareClient::from_env()?;
    let created = cf
        .turn_keys(cf.default_account()?)
        .create(Some("browser-sessions"))
        .await?;
    let id = created
        .turn_key
        .id
        .as_ref()
        .map(|id| id.as_str())
        .unwrap_or("-");
    println!("CLOUDFLARE_TURN_KEY_ID={id}");
    // Printed on purpose, once: store it in your secret store now.
    println!("CLOUDFLARE_TURN_KEY={}", created.key.expose());
    Ok(())
}

/// Per user: what the browser passes to `new RTCPeerConnection(...)`. The backend holds only
/// the key, not the account token.
async fn for_browser() -> Result<(), Error> {
    let turn = TurnCredentials::from_env()?;
    // Browsers block port 53, which the answer also lists.
    let ice = turn.ice_servers(SESSION).await?.without_port_53();
    // Keep the username to revoke the credential when the user logs out.
    if let Some(username) = ice.username() {
        eprintln!("username (for revoke): {}", username.as_str());
    }
    eprintln!("expires at: {}", ice.expires_at);
    // The body of your endpoint's answer: {"iceServers": [...]}.
    println!(
        "{}",
        serde_json::to_string_pretty(&ice).expect("ICE servers serialise")
    );
    Ok(())
}

/// On logout: the credential stops working shortly after.
async fn revoke(username: &str) -> Result<(), Error> {
    let turn = TurnCredentials::from_env()?;
    turn.revoke(&TurnUsername::parse(username)?).await?;
    eprintln!("revoked");
    Ok(())
}
