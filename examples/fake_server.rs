//! Serves the fake Cloudflare and Hover APIs until Ctrl-C, for curl or clients in other
//! languages: the same as `apps-api fake`, whose flags it takes.
//!
//! ```sh
//! cargo run --example fake_server --features fake -- --port 8787 \
//!     [--cloudflare-token T] [--cloudflare-email E --cloudflare-key K] \
//!     [--hover-email E] [--hover-password P] [--hover-token-ttl SECONDS]
//! ```
//! Credentials not given are made up and printed.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    apps_api::fake::run_standalone(std::env::args().skip(1)).await
}
