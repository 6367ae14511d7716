//! Lists the Calls apps and Magic account apps of your Cloudflare account.
//!
//! ```sh
//! CLOUDFLARE_API_TOKEN=… CLOUDFLARE_ACCOUNT_ID=… cargo run --example cloudflare
//! ```
//! `CLOUDFLARE_API_KEY` + `CLOUDFLARE_EMAIL` work instead of a token; `CLOUDFLARE_BASE_URL`
//! points it elsewhere (a proxy, or the fake server: `cargo run --example fake_server --features
//! fake`). Read-only: it changes nothing.

use apps_api::cloudflare::{magic::MagicListItem, CloudflareClient};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), apps_api::Error> {
    let cf = CloudflareClient::from_env()?;
    let account = cf.default_account()?;

    println!("Calls apps of {account}:");
    for app in cf.calls(&account).list().await? {
        println!(
            "  {:<34} {:<30} modified {}",
            app.id.map(|id| id.to_string()).unwrap_or_default(),
            app.name.unwrap_or_default(),
            app.modified.map(|t| t.to_rfc3339()).unwrap_or_default()
        );
    }

    println!("Magic apps of {account}:");
    match cf.magic(&account).list().await {
        Ok(items) => {
            for item in items {
                match item {
                    MagicListItem::Account(app) => println!(
                        "  account {:<34} {:<24} {:?} {:?}",
                        app.id.as_str(),
                        app.name.unwrap_or_default(),
                        app.hostnames,
                        app.ip_subnets
                    ),
                    MagicListItem::Managed(app) => {
                        println!("  managed {:<34} {}", app.id, app.name.unwrap_or_default())
                    }
                    _ => println!("  (a kind of app this version does not know)"),
                }
            }
        }
        // Magic apps need an Enterprise plan; say so and carry on.
        Err(e) => println!("  not available: {e}"),
    }
    Ok(())
}
