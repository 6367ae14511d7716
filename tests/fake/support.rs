//! Raw HTTP to the fake, past the client's own checks.

use apps_api::fake::FakeServer;
use serde_json::Value;

/// A plain reqwest client for raw requests (this crate's reqwest has no default TLS provider),
/// built once: building one loads the platform's certificates, which takes a while.
pub fn http() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let _ = rustls::crypto::ring::default_provider().install_default();
            // No idle connections kept: each test has its own runtime, and a pooled
            // connection would die with the runtime that opened it.
            reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap()
        })
        .clone()
}

/// A request with the fake's Cloudflare token, answered as (status, JSON or null).
pub async fn raw(
    fake: &FakeServer,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> (u16, Value) {
    let auth = format!("Bearer {}", fake.cloudflare_token().expose());
    send(method, &url, &[("authorization", auth.as_str())], body).await
}

/// A request with these headers, answered as (status, JSON or null).
pub async fn send(
    method: reqwest::Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = http().request(method, url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The fake's Cloudflare base with its account: `…/client/v4/accounts/<id>`.
pub fn cf_base(fake: &FakeServer) -> String {
    format!(
        "{}/accounts/{}",
        fake.cloudflare_base_url(),
        fake.account_id()
    )
}
