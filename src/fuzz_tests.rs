//! Property tests of every decoder: arbitrary bytes and arbitrary JSON (free-form, and shaped
//! like each provider's envelope) as the answer to every operation, through the whole facade
//! (generated decoding, envelope, conversion, error mapping), answered in-process.
//!
//! Every case must end in `Ok` or a typed `Error` whose `Display` works; a panic fails the test.
//! Cases per operation: `PROPTEST_CASES` (default 10,000).

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use proptest::prelude::*;
use serde_json::Value;

use crate::cloudflare::magic::{MagicAppChanges, NewMagicApp};
use crate::cloudflare::{CloudflareClient, Credentials};
use crate::core::transport::Responder;
use crate::hover::{AppChanges, HoverClient, NewHoverApp};
use crate::{CallsAppId, HoverAppId, MagicAppId, RetryConfig};

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

const KEYS: &[&str] = &[
    "success",
    "errors",
    "messages",
    "result",
    "code",
    "message",
    "source",
    "pointer",
    "uid",
    "name",
    "created",
    "modified",
    "secret",
    "account_app_id",
    "managed_app_id",
    "type",
    "hostnames",
    "ip_subnets",
    "source_subnets",
    "data",
    "id",
    "attributes",
    "relationships",
    "package_name",
    "token",
    "webhook_url",
    "webhook_secret",
    "archived_at",
    "archived",
    "auth_token",
    "error",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[ -~é\u{1F600}]{0,16}".prop_map(Value::from),
        Just(Value::from("2014-01-02T02:20:00Z")),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let key = prop_oneof![
            3 => proptest::sample::select(KEYS).prop_map(str::to_owned),
            1 => "[a-z_]{1,8}",
        ];
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(key, inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// JSON shaped like the bodies these APIs send, with arbitrary parts.
fn shaped_json() -> impl Strategy<Value = Value> {
    let any_json = json_value();
    prop_oneof![
        (any::<bool>(), json_value(), json_value(), json_value()).prop_map(|(s, e, m, r)| {
            serde_json::json!({"success": s, "errors": e, "messages": m, "result": r})
        }),
        (any::<bool>(), json_value()).prop_map(|(s, r)| {
            serde_json::json!({"success": s, "errors": [], "messages": [], "result": r})
        }),
        (json_value(), json_value()).prop_map(|(id, attributes)| {
            serde_json::json!({"data": {"id": id, "type": "app", "attributes": attributes}})
        }),
        any_json,
    ]
}

fn status() -> impl Strategy<Value = u16> {
    prop_oneof![
        4 => proptest::sample::select(&[200u16, 201, 204, 400, 401, 403, 404, 409, 429, 500, 502][..]),
        1 => 100u16..600,
    ]
}

struct Clients {
    cf: CloudflareClient,
    hover: HoverClient,
    hover_login: HoverClient,
    runtime: tokio::runtime::Runtime,
    answer: Arc<Mutex<(u16, Bytes)>>,
}

impl Clients {
    /// Clients whose every request is answered with the current `answer`.
    fn new() -> Self {
        let answer = Arc::new(Mutex::new((200, Bytes::new())));
        let canned = answer.clone();
        let responder = Responder(Arc::new(move |_request| {
            let (status, body) = canned.lock().unwrap().clone();
            let mut response = http::Response::new(body);
            *response.status_mut() = http::StatusCode::from_u16(status).unwrap();
            response
        }));
        let mut cf = CloudflareClient::builder()
            .credentials(Credentials::api_token("fuzz-token"))
            .base_url("http://fuzz.invalid/client/v4")
            .retry(RetryConfig::disabled());
        cf.options.responder = Some(responder.clone());
        let hover = |with_password: bool| {
            let builder = HoverClient::builder()
                .base_url("http://fuzz.invalid")
                .retry(RetryConfig::disabled());
            let mut builder = if with_password {
                builder.credentials("fuzz@example.com", "fuzz-password")
            } else {
                builder.token("fuzz-jwt")
            };
            builder.options.responder = Some(responder.clone());
            builder.build().unwrap()
        };
        Clients {
            cf: cf.build().unwrap(),
            hover: hover(false),
            hover_login: hover(true),
            runtime: tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap(),
            answer,
        }
    }

    fn answer(&self, status: u16, body: impl Into<Bytes>) -> &Self {
        *self.answer.lock().unwrap() = (status, body.into());
        self
    }
}

thread_local! {
    // One set of clients per test thread, reused by every case.
    static CLIENTS: Clients = Clients::new();
}

/// Runs every operation once against the canned answer; returns how many ran.
fn every_operation(c: &Clients) -> usize {
    fn check<T: std::fmt::Debug>(result: Result<T, crate::Error>) -> usize {
        if let Err(e) = &result {
            // Display and the helpers must work on whatever came back.
            let _ = (e.to_string(), e.status(), e.is_retryable(), e.codes());
        }
        1
    }
    let calls = c.cf.calls("acc");
    let magic = c.cf.magic("acc");
    let hover = c.hover.apps();
    let (calls_id, magic_id, hover_id) = (
        CallsAppId::new("a"),
        MagicAppId::new("m"),
        HoverAppId::new("1"),
    );
    let new_magic = NewMagicApp::new("n", "t").hostnames(["h"]);
    let magic_changes = MagicAppChanges::new().name("n");
    let new_hover = NewHoverApp::new("n", "p");
    let hover_changes = AppChanges::new().name("n");
    c.runtime.block_on(async {
        check(calls.list().await)
            + check(calls.create(Some("n")).await)
            + check(calls.get(&calls_id).await)
            + check(calls.update(&calls_id, None).await)
            + check(calls.delete(&calls_id).await)
            + check(magic.list().await)
            + check(magic.create(&new_magic).await)
            + check(magic.update(&magic_id, &magic_changes).await)
            + check(magic.patch(&magic_id, &magic_changes).await)
            + check(magic.delete(&magic_id).await)
            + check(hover.create(&new_hover).await)
            + check(hover.get(&hover_id).await)
            + check(hover.update(&hover_id, &hover_changes).await)
            + check(hover.archive(&hover_id).await)
            + check(hover.restore(&hover_id).await)
            + check(c.hover_login.authenticate().await)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(status in status(), body in proptest::collection::vec(any::<u8>(), 0..256)) {
        let ran = CLIENTS.with(|c| every_operation(c.answer(status, body)));
        prop_assert_eq!(ran, 16);
    }

    #[test]
    fn arbitrary_json_never_panics(status in status(), body in shaped_json()) {
        let ran = CLIENTS.with(|c| every_operation(c.answer(status, body.to_string())));
        prop_assert_eq!(ran, 16);
    }
}

#[test]
fn the_harness_decodes_a_real_answer() {
    // The harness must reach the decoders: a documented answer decodes to Ok.
    let body = include_str!("../tests/fixtures/docs/calls-list.response.json");
    let apps = CLIENTS.with(|c| {
        c.runtime
            .block_on(c.answer(200, body).cf.calls("acc").list())
    });
    assert_eq!(apps.unwrap().len(), 1);
}
