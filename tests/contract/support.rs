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

pub const ACCOUNT: &str = "023e105f4ecef8ad9ca31a8372d0c353";
pub const TOKEN: &str = "cf-test-token-0123456789abcdef0123";
pub const HOVER_JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjo2Mn0.c2lnbmF0dXJl";
pub const HOVER_EMAIL: &str = "dev@example.com";
pub const HOVER_PASSWORD: &str = "correct-horse-battery-staple";
pub const USER_AGENT: &str = concat!("apps-api/", env!("CARGO_PKG_VERSION"));
pub const CF_PREFIX: &str = "/client/v4";

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

pub fn cf_builder(server: &MockServer) -> apps_api::cloudflare::CloudflareClientBuilder {
    CloudflareClient::builder()
        .credentials(Credentials::api_token(TOKEN))
        .base_url(format!("{}{CF_PREFIX}", server.base_url()))
        .sleeper(Arc::new(RecordingSleeper::default()))
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
        $crate::support::json(include_str!(concat!("../fixtures/docs/", $name)))
    };
}
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
