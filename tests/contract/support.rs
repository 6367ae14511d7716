//! Shared set-up for the contract tests: clients pointed at an httpmock server, fixtures, and a
//! sleeper that records waits instead of sleeping.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apps_api::cloudflare::{CloudflareClient, Credentials};
use apps_api::hover::HoverClient;
use apps_api::{RetryConfig, Sleeper};
use httpmock::MockServer;

/// A raw TCP server, for answers a mock server cannot give.
#[path = "../common/raw.rs"]
pub mod raw;

pub const ACCOUNT: &str = "023e105f4ecef8ad9ca31a8372d0c353";
pub const TOKEN: &str = "cf-test-token-0123456789abcdef0123";
pub const HOVER_JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjo2Mn0.c2lnbmF0dXJl";
pub const HOVER_EMAIL: &str = "dev@example.com";
pub const HOVER_PASSWORD: &str = "correct-horse-battery-staple";
pub const USER_AGENT: &str = concat!("apps-api/", env!("CARGO_PKG_VERSION"));
/// The path Cloudflare's account APIs are served under (their specs' `servers`).
pub const CF_PREFIX: &str = apps_api::operations::CALLS_APPS_LIST.base_path;

/// Records every wait and returns at once, so retry tests stay fast.
#[derive(Debug, Default, Clone)]
pub struct RecordingSleeper(pub Arc<Mutex<Vec<Duration>>>);

impl RecordingSleeper {
    pub fn waits(&self) -> Vec<Duration> {
        self.0.lock().unwrap().clone()
    }
}

impl Sleeper for RecordingSleeper {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        self.0.lock().unwrap().push(duration);
        Box::pin(async {})
    }
}

thread_local! {
    /// The operations this test's clients got answers to (a test runs on one thread).
    static RAN: std::cell::RefCell<Vec<&'static str>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// An `on_response` hook recording the operation of every answer, for [`assert_ran`].
pub fn recorder() -> impl Fn(&apps_api::ResponseInfo<'_>) + Send + Sync + 'static {
    |answer| RAN.with(|ran| ran.borrow_mut().push(answer.operation))
}

/// Asserts that a client of this test got an answer to `operation`: the contract test names the
/// operation it pins (`tests/spec.rs` checks that every operation has one).
#[track_caller]
pub fn assert_ran(operation: &apps_api::operations::Operation) {
    RAN.with(|ran| {
        let ran = ran.borrow();
        assert!(
            ran.contains(&operation.id),
            "{} did not run: {ran:?}",
            operation.id
        );
    });
}

pub fn cf_builder(server: &MockServer) -> apps_api::cloudflare::CloudflareClientBuilder {
    CloudflareClient::builder()
        .credentials(Credentials::api_token(TOKEN))
        .base_url(format!("{}{CF_PREFIX}", server.base_url()))
        .sleeper(Arc::new(RecordingSleeper::default()))
        .on_response(recorder())
}

pub fn cf(server: &MockServer) -> CloudflareClient {
    cf_builder(server).build().unwrap()
}

/// A client that never retries, for tests that count exactly one hit per call.
pub fn cf_no_retry(server: &MockServer) -> CloudflareClient {
    cf_builder(server)
        .retry(RetryConfig::disabled())
        .build()
        .unwrap()
}

pub fn hover_builder(server: &MockServer) -> apps_api::hover::HoverClientBuilder {
    HoverClient::builder()
        .base_url(server.base_url())
        .sleeper(Arc::new(RecordingSleeper::default()))
        .on_response(recorder())
}

pub fn hover_with_token(server: &MockServer) -> HoverClient {
    hover_builder(server).token(HOVER_JWT).build().unwrap()
}

pub fn hover_with_password(server: &MockServer) -> HoverClient {
    hover_builder(server)
        .credentials(HOVER_EMAIL, HOVER_PASSWORD)
        .build()
        .unwrap()
}

pub fn cf_path(rest: &str) -> String {
    format!("{CF_PREFIX}/accounts/{ACCOUNT}{rest}")
}

pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap()
}

macro_rules! fixture {
    ($name:literal) => {
        $crate::support::json(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/docs/",
            $name
        )))
    };
}
#[allow(unused_imports)]
pub(crate) use fixture;

/// A Cloudflare failure envelope.
pub fn cf_failure(code: i64, message: &str) -> serde_json::Value {
    serde_json::json!({
        "success": false,
        "errors": [{"code": code, "message": message}],
        "messages": [],
        "result": null
    })
}

pub fn ts(s: &str) -> chrono::DateTime<chrono::Utc> {
    s.parse().unwrap()
}

/// A minimal HTTP/1.1 server on loopback that answers every request with the bytes `respond`
/// returns (or stalls forever when it returns `None` after the head), keeps connections alive,
/// and counts accepted connections and requests.
pub struct RawServer {
    pub url: String,
    pub connections: Arc<std::sync::atomic::AtomicUsize>,
    pub requests: Arc<std::sync::atomic::AtomicUsize>,
}

impl RawServer {
    pub async fn start(
        respond: impl Fn(&str) -> (Vec<u8>, bool) + Send + Sync + 'static,
    ) -> RawServer {
        use std::sync::atomic::Ordering::SeqCst;
        use tokio::io::AsyncWriteExt;
        let requests = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (respond, count) = (Arc::new(respond), requests.clone());
        let (url, connections) = raw::raw_server(move |mut socket, _| {
            let (respond, count) = (respond.clone(), count.clone());
            async move {
                let mut buffer = Vec::new();
                while let Some(head) = raw::read_head(&mut socket, &mut buffer).await {
                    count.fetch_add(1, SeqCst);
                    let (bytes, then_stall) = respond(&head);
                    if socket.write_all(&bytes).await.is_err() {
                        return;
                    }
                    if then_stall {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                    }
                }
            }
        })
        .await;
        RawServer {
            url,
            connections,
            requests,
        }
    }
}

/// An HTTP/1.1 200 answer with a JSON body.
pub fn http_200(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// In-process answers on tokio's clock (feature `test-util`): clients whose requests never
/// leave the test, so that its time can be virtual (`start_paused`).
#[cfg(feature = "test-util")]
pub mod in_process {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;
    use std::time::Duration;

    #[allow(unused_imports)]
    pub use apps_api::test_util::{json_response, Request, Responder, Response};

    /// Counts the requests of each path it answers.
    #[derive(Clone, Default)]
    pub struct Counts(Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>);

    impl Counts {
        pub fn of(&self, path: &str) -> usize {
            self.0.lock().unwrap().get(path).copied().unwrap_or(0)
        }

        /// Every request it answered, whatever its path.
        pub fn total(&self) -> usize {
            self.0.lock().unwrap().values().sum()
        }

        pub fn add(&self, request: &Request) -> usize {
            let mut counts = self.0.lock().unwrap();
            let n = counts.entry(request.uri().path().to_string()).or_default();
            *n += 1;
            *n
        }
    }

    /// An answer after `delay` on tokio's clock.
    pub async fn after(delay: Duration, response: Response) -> Response {
        tokio::time::sleep(delay).await;
        response
    }

    /// A counter shared with a responder.
    pub fn counter() -> (Arc<AtomicUsize>, impl Fn() -> usize + Clone) {
        let count = Arc::new(AtomicUsize::new(0));
        let bump = count.clone();
        (count, move || bump.fetch_add(1, SeqCst) + 1)
    }

    pub fn cloudflare(responder: Responder) -> apps_api::cloudflare::CloudflareClientBuilder {
        apps_api::cloudflare::CloudflareClient::builder()
            .credentials(apps_api::cloudflare::Credentials::api_token(super::TOKEN))
            .responder(responder)
    }

    pub fn hover(responder: Responder) -> apps_api::hover::HoverClientBuilder {
        apps_api::hover::HoverClient::builder()
            .credentials(super::HOVER_EMAIL, super::HOVER_PASSWORD)
            .responder(responder)
    }
}
