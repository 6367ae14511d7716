//! A page where two tabs publish their camera and microphone and see each other, through the
//! crate's SFU proxy: the backend a browser app needs, in one `Router::nest`.
//!
//!     cargo run --example proxy --features fake-media,proxy      # on the embedded fake
//!     cargo run --example proxy --features fake,proxy -- --live  # on Cloudflare
//!
//! Then open the printed URL in two tabs. On the fake, with `fake-media`, the fake's SFU
//! carries the tabs' media on 127.0.0.1 (with `fake` alone it negotiates, but no media flows). Live, the app comes from `CLOUDFLARE_CALLS_APP_ID` and
//! `CLOUDFLARE_CALLS_APP_SECRET`, and with `CLOUDFLARE_TURN_KEY_ID` and `CLOUDFLARE_TURN_KEY`
//! the ICE servers carry a shared TURN credential. `--port N` picks the port (default 8080; 0
//! for any). The room (who publishes what) is this example's own, kept in memory.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apps_api::cloudflare::sfu::proxy::Proxy;
use apps_api::cloudflare::sfu::RealtimeClient;
use apps_api::cloudflare::turn::{IceServerCache, TurnCredentials};
use apps_api::fake::FakeServer;
use apps_api::Error;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

/// The page: plain `fetch` and `RTCPeerConnection`.
const PAGE: &str = include_str!("index.html");

/// At most this many participants are listed.
const ROOM_SIZE: usize = 16;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let live = args.iter().any(|a| a == "--live");
    let port = args
        .iter()
        .position(|a| a == "--port")
        .and_then(|at| args.get(at + 1))
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080u16);
    match serve(live, port).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(live: bool, port: u16) -> Result<(), Error> {
    // The fake lives as long as the server.
    let (client, turn, _fake) = if live {
        let turn = match std::env::var_os("CLOUDFLARE_TURN_KEY_ID") {
            Some(_) => Some(TurnCredentials::from_env()?),
            None => None,
        };
        (RealtimeClient::from_env()?, turn, None)
    } else {
        #[cfg(feature = "fake-media")]
        let fake = {
            let media = SocketAddr::from(([127, 0, 0, 1], 0));
            FakeServer::start_with(apps_api::fake::FakeConfig::new().media(media)).await?
        };
        #[cfg(not(feature = "fake-media"))]
        let fake = FakeServer::start().await?;
        let created = fake
            .cloudflare_client()?
            .calls(fake.account_id())
            .create(Some("proxy-example"))
            .await?;
        let id = created
            .app
            .id
            .clone()
            .ok_or_else(|| Error::InvalidArgument("the created app has no uid".into()))?;
        let client = fake.realtime_client(id, created.secret)?;
        println!("On the embedded fake ({})", fake.realtime_base_url());
        (client, None, Some(fake))
    };
    // A signing key of its own for this run (a real backend keeps one in its secret store).
    let mut bytes = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| Error::Config("no randomness for a signing key".into()))?;
    let key: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    // Served over plain HTTP on loopback: no `Secure` cookie (behind TLS, leave it on).
    let mut proxy = Proxy::builder(client, key)
        .prefix("/partytracks")
        .secure_cookies(false);
    if let Some(turn) = turn {
        proxy = proxy.ice_servers(IceServerCache::new(turn, Duration::from_secs(3600))?);
    }
    let proxy = proxy.build()?;
    let room: Arc<Mutex<Vec<Value>>> = Arc::default();
    let joined = room.clone();
    let app = Router::new()
        .route("/", get(|| async { axum::response::Html(PAGE) }))
        .route(
            "/room",
            get(move || {
                let peers = room.lock().unwrap().clone();
                async move { Json(json!({ "peers": peers })) }
            })
            .post(move |Json(peer): Json<Value>| {
                let mut room = joined.lock().unwrap();
                room.retain(|p| p["sessionId"] != peer["sessionId"]);
                room.push(json!({"sessionId": peer["sessionId"], "tracks": peer["tracks"]}));
                let over = room.len().saturating_sub(ROOM_SIZE);
                room.drain(..over);
                async { Json(json!({})) }
            }),
        )
        .nest("/partytracks", proxy.router());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| Error::Config(format!("cannot listen on port {port}: {e}")))?;
    let address = listener
        .local_addr()
        .map_err(|e| Error::Config(e.to_string()))?;
    println!("Open http://{address}/ in two tabs (Ctrl-C stops)");
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| Error::Config(e.to_string()))
}
