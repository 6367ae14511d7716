//! Serves the fake Cloudflare and Hover APIs until Ctrl-C, for curl or clients in other
//! languages.
//!
//! ```sh
//! cargo run --example fake_server --features fake -- --port 8787 \
//!     [--cloudflare-token T] [--hover-email E] [--hover-password P]
//! ```
//! Credentials not given are made up and printed.

use apps_api::fake::{FakeConfig, FakeServer};

fn usage() -> std::process::ExitCode {
    eprintln!(
        "usage: fake_server [--port N] [--cloudflare-token T] [--hover-email E] [--hover-password P]"
    );
    std::process::ExitCode::from(2)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let mut config = FakeConfig::new();
    let (mut email, mut password) = (None, None);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let Some(value) = args.next() else {
            return usage();
        };
        match flag.as_str() {
            "--port" => match value.parse() {
                Ok(port) => config = config.port(port),
                Err(_) => return usage(),
            },
            "--cloudflare-token" => config = config.cloudflare_token(value),
            "--hover-email" => email = Some(value),
            "--hover-password" => password = Some(value),
            _ => return usage(),
        }
    }
    if email.is_some() || password.is_some() {
        config = config.hover_login(
            email.unwrap_or_else(|| "developer@example.com".into()),
            password.unwrap_or_else(|| "password".into()),
        );
    }
    let fake = match FakeServer::start_with(config).await {
        Ok(fake) => fake,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    // Printed on purpose: these are the fake's own made-up credentials.
    println!("Fake Cloudflare API: {}", fake.cloudflare_base_url());
    println!("  token:   {}", fake.cloudflare_token().expose());
    println!("  account: {} (any account ID works)", fake.account_id());
    println!("Fake Hover API:      {}/api", fake.hover_base_url());
    println!("  email:    {}", fake.hover_email());
    println!("  password: {}", fake.hover_password().expose());
    println!();
    println!("Try:");
    println!(
        "  curl -H 'Authorization: Bearer {}' {}/accounts/{}/calls/apps",
        fake.cloudflare_token().expose(),
        fake.cloudflare_base_url(),
        fake.account_id()
    );
    println!(
        "  CLOUDFLARE_BASE_URL={} cargo run --example cloudflare",
        fake.cloudflare_base_url()
    );
    println!("Ctrl-C stops it.");
    let _ = tokio::signal::ctrl_c().await;
    std::process::ExitCode::SUCCESS
}
