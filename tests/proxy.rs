//! A proxy set in the environment never sees a request to an `http://` base URL (it would see
//! the credentials in cleartext), and `localhost` is loopback whatever DNS says. A binary of its
//! own: it sets process-wide environment variables before any client is built.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use apps_api::cloudflare::{CloudflareClient, Credentials};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[path = "common/raw.rs"]
#[allow(dead_code)]
mod raw;

/// A listener that counts connections and answers each request with an empty Calls list.
async fn listener() -> (u16, Arc<AtomicUsize>) {
    let (url, hits) = raw::raw_server(|mut stream, _| async move {
        let mut buffer = [0u8; 4096];
        let _ = stream.read(&mut buffer).await;
        let body = r#"{"success":true,"errors":[],"messages":[],"result":[]}"#;
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(answer.as_bytes()).await;
    })
    .await;
    let port = url.rsplit(':').next().unwrap().parse().unwrap();
    (port, hits)
}

#[tokio::test]
async fn a_proxy_in_the_environment_never_sees_plain_http() {
    let (proxy_port, proxy_hits) = listener().await;
    let proxy = format!("http://127.0.0.1:{proxy_port}");
    for name in ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"] {
        // Set before any client exists; this binary has this one test.
        std::env::set_var(name, &proxy);
    }
    std::env::remove_var("NO_PROXY");
    std::env::remove_var("no_proxy");
    let (port, hits) = listener().await;
    for host in ["127.0.0.1", "localhost"] {
        let cf = CloudflareClient::builder()
            .credentials(Credentials::api_token("proxy-test-token"))
            .base_url(format!("http://{host}:{port}/client/v4"))
            .build()
            .unwrap();
        let apps = cf.calls("023e105f4ecef8ad9ca31a8372d0c353").list().await;
        assert!(apps.is_ok(), "{host}: {apps:?}");
    }
    assert_eq!(proxy_hits.load(SeqCst), 0, "the proxy saw the credentials");
    assert_eq!(hits.load(SeqCst), 2);
}
