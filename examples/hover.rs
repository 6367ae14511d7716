//! Shows one of your Hover apps.
//!
//! ```sh
//! HOVER_EMAIL=… HOVER_PASSWORD=… cargo run --example hover -- 43120
//! ```
//! `HOVER_API_TOKEN` works instead of email and password; `HOVER_BASE_URL` points it
//! elsewhere (`https://stage.usehover.com`, or the fake server). Read-only: it changes nothing.

use apps_api::hover::HoverClient;
use apps_api::HoverAppId;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let Some(id) = std::env::args().nth(1) else {
        eprintln!("usage: cargo run --example hover -- <app id>");
        return std::process::ExitCode::from(2);
    };
    match run(HoverAppId::new(id)).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(id: HoverAppId) -> Result<(), apps_api::Error> {
    let hover = HoverClient::from_env()?;
    let app = hover.apps().get(&id).await?;
    println!("id            {}", app.id);
    println!("name          {}", app.name);
    println!("package       {}", app.package_name);
    println!(
        "webhook       {}",
        app.webhook_url.as_deref().unwrap_or("-")
    );
    // Secrets print as [redacted]; call .expose() where you really need the value.
    println!(
        "token         {}",
        app.token.map(|t| t.to_string()).unwrap_or_default()
    );
    println!(
        "archived at   {}",
        app.archived_at
            .map(|t| t.to_rfc3339())
            .unwrap_or("-".into())
    );
    Ok(())
}
