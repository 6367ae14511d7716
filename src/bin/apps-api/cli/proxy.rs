//! `apps-api proxy`: the library's SFU proxy, standalone.

use std::process::ExitCode;

use apps_api::cloudflare::sfu::proxy::Proxy;
use apps_api::cloudflare::sfu::RealtimeClient;
use apps_api::cloudflare::turn::{IceServerCache, TurnCredentials};
use apps_api::{Error, Secret};

use super::args::ProxyArgs;

/// Serves until Ctrl-C, after saying where.
pub async fn serve(args: ProxyArgs) -> ExitCode {
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            super::output::report(&error);
            ExitCode::from(super::output::exit_code(&error))
        }
    }
}

async fn run(args: ProxyArgs) -> Result<(), Error> {
    let client = RealtimeClient::from_env()?;
    let (key, made_up) = match std::env::var("APPS_API_PROXY_KEY") {
        Ok(key) => (Secret::new(key), false),
        Err(_) => (made_up_key()?, true),
    };
    // Plain HTTP on loopback is development: a `Secure` cookie there is for the browser to
    // take or not; anywhere else the proxy sits behind TLS and the cookie is `Secure`.
    let mut builder = Proxy::builder(client.clone(), key)
        .prefix(&args.prefix)
        .token_lifetime(args.token_lifetime)
        .secure_cookies(!args.listen.is_loopback())
        .behind_reverse_proxies(args.behind_proxies);
    let turn = match std::env::var_os("CLOUDFLARE_TURN_KEY_ID") {
        Some(_) => Some(IceServerCache::new(
            TurnCredentials::from_env()?,
            args.turn_ttl,
        )?),
        None => None,
    };
    if let Some(cache) = &turn {
        builder = builder.ice_servers(cache.clone());
    }
    let proxy = builder.build()?;
    let mut app = axum::Router::new().nest(&args.prefix, proxy.router());
    if let Some(dir) = &args.static_dir {
        if !dir.is_dir() {
            return Err(Error::Config(format!(
                "--static {} is not a folder",
                dir.display()
            )));
        }
        app = app.fallback_service(tower_http::services::ServeDir::new(dir));
    }
    let listener = tokio::net::TcpListener::bind((args.listen, args.port))
        .await
        .map_err(|e| {
            Error::Config(format!(
                "cannot listen on {}:{}: {e}",
                args.listen, args.port
            ))
        })?;
    let address = listener
        .local_addr()
        .map_err(|e| Error::Config(format!("no local address: {e}")))?;
    println!(
        "SFU proxy of app {} on http://{address}{}",
        client.app_id(),
        args.prefix
    );
    println!(
        "  ICE servers: {}",
        if turn.is_some() {
            "STUN and a shared TURN credential"
        } else {
            "STUN only (no CLOUDFLARE_TURN_KEY_ID)"
        }
    );
    if let Some(dir) = &args.static_dir {
        println!("  files from {} at http://{address}/", dir.display());
    }
    if made_up {
        println!("  session tokens signed with a key made up now (set APPS_API_PROXY_KEY to keep them across restarts)");
    }
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let served = axum::serve(listener, app).with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    });
    served
        .await
        .map_err(|e| Error::Config(format!("the proxy stopped: {e}")))?;
    Ok(())
}

/// A signing key of 32 random bytes, for a proxy whose tokens end with the process.
fn made_up_key() -> Result<Secret, Error> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::Config("no randomness for a signing key".into()))?;
    Ok(Secret::new(
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>(),
    ))
}
