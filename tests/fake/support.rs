//! Raw HTTP to the fake, past the client's own checks.

use apps_api::fake::FakeServer;
use serde_json::Value;

#[path = "../common/http.rs"]
mod http_client;
pub use http_client::http;

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
