//! A plain reqwest client for raw requests to loopback servers (this crate's reqwest has no
//! default TLS provider, which even plain HTTP needs installed), built once.

/// The client; no idle connections kept, as each test has its own runtime.
pub fn http() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let _ = rustls::crypto::ring::default_provider().install_default();
            reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap()
        })
        .clone()
}
