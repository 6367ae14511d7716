//! Property tests of every decoder: arbitrary bytes and arbitrary JSON (free-form, and shaped
//! like each provider's envelope) as the answer to every operation, through the whole facade
//! (generated decoding, envelope, conversion, error mapping), answered in process (feature
//! `test-util`); and arbitrary IDs through every operation that takes one.
//!
//! Every case must end in `Ok` or the typed `Error` its answer calls for, whose `Display` works;
//! a panic fails the test. Cases per property: `PROPTEST_CASES` (default 10,000).
#![cfg(all(
    feature = "test-util",
    feature = "cloudflare-calls",
    feature = "cloudflare-magic",
    feature = "hover"
))]

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use proptest::prelude::*;
use serde_json::Value;

use apps_api::cloudflare::magic::{MagicAppChanges, NewMagicApp};
use apps_api::cloudflare::{CloudflareClient, Credentials};
use apps_api::hover::{HoverAppChanges, HoverClient, NewHoverApp};
use apps_api::test_util::Responder;
use apps_api::{CallsAppId, HoverAppId, MagicAppId, RetryConfig};

/// Cases per property: `PROPTEST_CASES`, or 10,000.
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

/// What the in-process responder answers with.
#[derive(Clone)]
struct Canned {
    status: u16,
    headers: Vec<(http::HeaderName, http::HeaderValue)>,
    body: Bytes,
}

/// Every request the responder saw: method and path (as sent, percent-encoded).
type Seen = Arc<Mutex<Vec<(String, String)>>>;

struct Clients {
    cf: CloudflareClient,
    turn: apps_api::cloudflare::turn::TurnCredentials,
    hover: HoverClient,
    hover_login: HoverClient,
    runtime: tokio::runtime::Runtime,
    answer: Arc<Mutex<Canned>>,
    seen: Seen,
    responder: Responder,
    /// The operations the clients got answers to.
    answered: Arc<Mutex<std::collections::BTreeSet<&'static str>>>,
}

/// A sleeper that does not sleep (the header tests retry).
#[derive(Debug)]
struct NoWait;

impl apps_api::Sleeper for NoWait {
    fn sleep(
        &self,
        _: std::time::Duration,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        Box::pin(async {})
    }
}

impl Clients {
    /// Clients whose every request is answered with the current `answer`, with `retry`.
    fn new(retry: RetryConfig) -> Self {
        let answer = Arc::new(Mutex::new(Canned {
            status: 200,
            headers: Vec::new(),
            body: Bytes::new(),
        }));
        let seen: Seen = Arc::default();
        let (canned, log) = (answer.clone(), seen.clone());
        let responder = Responder::new(move |request| {
            log.lock().unwrap().push((
                request.method().to_string(),
                request.uri().path().to_string(),
            ));
            let canned = canned.lock().unwrap().clone();
            let mut response = http::Response::new(canned.body);
            *response.status_mut() = http::StatusCode::from_u16(canned.status).unwrap();
            for (name, value) in canned.headers {
                response.headers_mut().append(name, value);
            }
            response
        });
        let answered: Arc<Mutex<std::collections::BTreeSet<&'static str>>> = Arc::default();
        let record = |answered: &Arc<Mutex<std::collections::BTreeSet<&'static str>>>| {
            let answered = answered.clone();
            move |answer: &apps_api::ResponseInfo<'_>| {
                answered.lock().unwrap().insert(answer.operation);
            }
        };
        let cf = CloudflareClient::builder()
            .on_response(record(&answered))
            .credentials(Credentials::api_token("fuzz-token"))
            .base_url("http://127.0.0.1:9/client/v4")
            .sleeper(Arc::new(NoWait))
            .retry(retry.clone())
            .responder(responder.clone());
        let turn = apps_api::cloudflare::turn::TurnCredentials::builder(
            "2a95132c15732412d22c1476fa83f27a",
            "fuzz-turn-key",
        )
        .base_url("http://127.0.0.1:9/v1")
        .sleeper(Arc::new(NoWait))
        .retry(retry.clone())
        .on_response(record(&answered))
        .responder(responder.clone());
        let hover = |with_password: bool| {
            let builder = HoverClient::builder()
                .on_response(record(&answered))
                .base_url("http://127.0.0.1:9")
                .sleeper(Arc::new(NoWait))
                .retry(retry.clone())
                // Every case must reach the login decoder, not a remembered rejection.
                .login_cooldown(std::time::Duration::ZERO);
            let builder = if with_password {
                builder.credentials("fuzz@example.com", "fuzz-password")
            } else {
                builder.token("fuzz-jwt")
            };
            builder.responder(responder.clone()).build().unwrap()
        };
        Clients {
            answered: answered.clone(),
            cf: cf.build().unwrap(),
            turn: turn.build().unwrap(),
            hover: hover(false),
            hover_login: hover(true),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .unwrap(),
            answer,
            seen,
            responder,
        }
    }

    fn answer(&self, status: u16, body: impl Into<Bytes>) -> &Self {
        self.answer_with(status, Vec::new(), body)
    }

    fn answer_with(
        &self,
        status: u16,
        headers: Vec<(http::HeaderName, http::HeaderValue)>,
        body: impl Into<Bytes>,
    ) -> &Self {
        *self.answer.lock().unwrap() = Canned {
            status,
            headers,
            body: body.into(),
        };
        self
    }

    /// The requests seen since the last call, emptied.
    fn take_seen(&self) -> Vec<(String, String)> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

thread_local! {
    // One set of clients per test thread, reused by every case.
    static CLIENTS: Clients = Clients::new(RetryConfig::disabled());
    // With one retry of each kind, so Retry-After is read, honoured and bounded.
    static RETRYING: Clients = Clients::new(
        RetryConfig::default().max_retries(1).max_rate_limit_retries(1),
    );
}

/// Whether `result` is what an answer with `status` may come to: a value or a decode error for
/// a success, an API error for a failure envelope on a success or for a redirect, the variant
/// its status calls for otherwise. Never a lost call (a login task that panicked ends in a
/// transport error "the login ended without an answer"), a timeout or an argument error: these
/// cases answer at once and every argument is valid. `Display` and the helpers must work.
fn allowed<T>(status: u16, result: &Result<T, apps_api::Error>) -> bool {
    use apps_api::Error as E;
    let Err(e) = result else {
        return (200..300).contains(&status);
    };
    let _ = (e.to_string(), e.status(), e.is_retryable(), e.codes());
    match (status, e) {
        (200..=299, E::Decode { .. } | E::Api(_)) => true,
        (100..=199, E::Decode { .. } | E::Api(_)) => true,
        (300..=399, E::Api(_)) => true,
        (401 | 403, E::Auth(_) | E::Api(_)) => true,
        (404, E::NotFound(_)) => true,
        (429, E::RateLimited(_)) => true,
        (400..=599, E::Api(_)) => !matches!(status, 401 | 403 | 404 | 429),
        _ => false,
    }
}

/// 1 if `result` is [`allowed`] for `status`, else 0 (and the case is printed).
fn check<T: std::fmt::Debug>(status: u16, result: Result<T, apps_api::Error>) -> usize {
    if allowed(status, &result) {
        1
    } else {
        eprintln!("HTTP {status} came to {result:?}");
        0
    }
}

/// How many operations there are.
const OPERATIONS: usize = 23;

/// Runs every operation once against the canned answer; returns how many ended as that
/// answer allows ([`allowed`]).
fn every_operation(c: &Clients) -> usize {
    let status = c.answer.lock().unwrap().status;
    let calls = c.cf.calls("acc");
    let turn_keys = c.cf.turn_keys("acc");
    let turn_key = apps_api::TurnKeyId::new("2a95132c15732412d22c1476fa83f27a");
    let username = apps_api::TurnUsername::new("u5ername");
    let magic = c.cf.magic("acc");
    let hover = c.hover.apps();
    let (calls_id, magic_id, hover_id) = (
        CallsAppId::new("2a95132c15732412d22c1476fa83f27a"),
        MagicAppId::new("m"),
        HoverAppId::new("1"),
    );
    let new_magic = NewMagicApp::new("n", "t").hostnames(["h"]);
    let magic_changes = MagicAppChanges::new().name("n");
    let new_hover = NewHoverApp::new("n", "p");
    let hover_changes = HoverAppChanges::new().name("n");
    c.runtime.block_on(async {
        check(status, calls.list().await)
            + check(status, calls.create(Some("n")).await)
            + check(status, calls.get(&calls_id).await)
            + check(status, calls.update(&calls_id, None).await)
            + check(status, calls.delete(&calls_id).await)
            + check(status, magic.list().await)
            + check(status, magic.create(&new_magic).await)
            + check(status, magic.update(&magic_id, &magic_changes).await)
            + check(status, magic.patch(&magic_id, &magic_changes).await)
            + check(status, magic.delete(&magic_id).await)
            + check(status, turn_keys.list().await)
            + check(status, turn_keys.create(Some("n")).await)
            + check(status, turn_keys.get(&turn_key).await)
            + check(status, turn_keys.update(&turn_key, None).await)
            + check(status, turn_keys.delete(&turn_key).await)
            + check(
                status,
                c.turn.ice_servers(std::time::Duration::from_secs(60)).await,
            )
            + check(status, c.turn.revoke(&username).await)
            + check(status, hover.create(&new_hover).await)
            + check(status, hover.get(&hover_id).await)
            + check(status, hover.update(&hover_id, &hover_changes).await)
            + check(status, hover.archive(&hover_id).await)
            + check(status, hover.restore(&hover_id).await)
            + check(status, c.hover_login.authenticate().await)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(status in status(), body in proptest::collection::vec(any::<u8>(), 0..256)) {
        let ran = CLIENTS.with(|c| every_operation(c.answer(status, body)));
        prop_assert_eq!(ran, OPERATIONS);
    }

    #[test]
    fn arbitrary_json_never_panics(status in status(), body in shaped_json()) {
        let ran = CLIENTS.with(|c| every_operation(c.answer(status, body.to_string())));
        prop_assert_eq!(ran, OPERATIONS);
    }
}

/// Every operation of the specs has a facade method: running every method the facade has gets
/// an answer to each operation of the table, and to nothing else.
#[test]
fn every_operation_of_the_specs_has_a_facade_method() {
    let answered = CLIENTS.with(|c| {
        c.answered.lock().unwrap().clear();
        every_operation(c.answer(404, "{}"));
        c.answered.lock().unwrap().clone()
    });
    let all: std::collections::BTreeSet<&str> =
        apps_api::operations::ALL.iter().map(|op| op.id).collect();
    assert_eq!(answered, all);
}

#[test]
fn the_harness_decodes_a_real_answer() {
    // The harness must reach the decoders: a documented answer decodes to Ok.
    let body = include_str!("fixtures/docs/calls-list.response.json");
    let apps = CLIENTS.with(|c| {
        c.runtime
            .block_on(c.answer(200, body).cf.calls("acc").list())
    });
    assert_eq!(apps.unwrap().len(), 1);
}

// ----- Failure envelopes on HTTP 200 -----

/// A Cloudflare error object: a code, a message, sometimes a pointer or a link.
fn cloudflare_error() -> impl Strategy<Value = Value> {
    (
        1000i64..100_000,
        "\\PC{0,40}",
        proptest::option::of("/[a-z_]{1,10}"),
        any::<bool>(),
    )
        .prop_map(|(code, message, pointer, link)| {
            let mut error = serde_json::json!({"code": code, "message": message});
            if let Some(pointer) = pointer {
                error["source"] = serde_json::json!({"pointer": pointer});
            }
            if link {
                error["documentation_url"] =
                    serde_json::json!("https://developers.cloudflare.com/");
            }
            error
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    /// `success: false` on HTTP 200, as Cloudflare can send it (`result` null or absent), is
    /// the API error it reports for every Cloudflare operation, never a decode error. (The
    /// Calls list read a null `result` as a malformed list until its schema allowed null.)
    #[test]
    fn success_false_on_200_is_always_an_api_error(
        errors in proptest::collection::vec(cloudflare_error(), 1..4),
        messages in proptest::collection::vec(cloudflare_error(), 0..2),
        result_absent in any::<bool>(),
    ) {
        let mut body = serde_json::json!({"success": false, "errors": errors, "messages": messages, "result": null});
        if result_absent {
            body.as_object_mut().unwrap().remove("result");
        }
        let expected: Vec<i64> = errors.iter().map(|e| e["code"].as_i64().unwrap()).collect();
        CLIENTS.with(|c| {
            c.answer(200, body.to_string());
            let calls = c.cf.calls("acc");
            let magic = c.cf.magic("acc");
            let (calls_id, magic_id) = (CallsAppId::new("2a95132c15732412d22c1476fa83f27a"), MagicAppId::new("m"));
            let changes = MagicAppChanges::new().name("n");
            let results: Vec<Result<(), apps_api::Error>> = c.runtime.block_on(async {
                vec![
                    calls.list().await.map(drop),
                    calls.create(None).await.map(drop),
                    calls.get(&calls_id).await.map(drop),
                    calls.update(&calls_id, None).await.map(drop),
                    calls.delete(&calls_id).await.map(drop),
                    magic.list().await.map(drop),
                    magic.create(&NewMagicApp::new("n", "t").hostnames(["h"])).await.map(drop),
                    magic.update(&magic_id, &changes).await.map(drop),
                    magic.patch(&magic_id, &changes).await.map(drop),
                    magic.delete(&magic_id).await.map(drop),
                    c.cf.turn_keys("acc").list().await.map(drop),
                    c.cf.turn_keys("acc").create(None).await.map(drop),
                    c.cf.turn_keys("acc").get(&apps_api::TurnKeyId::new("2a95132c15732412d22c1476fa83f27a")).await.map(drop),
                ]
            });
            for (i, result) in results.into_iter().enumerate() {
                match result {
                    Err(apps_api::Error::Api(failure)) => {
                        assert_eq!(failure.status, 200, "op {i}");
                        let codes: Vec<i64> = failure.errors.iter().filter_map(|e| e.code).collect();
                        assert_eq!(codes, expected, "op {i}");
                    }
                    other => panic!("op {i}: {other:?} for {body}"),
                }
            }
        });
    }
}

// ----- Response headers -----

/// A header value as a server may send it: arbitrary text, numbers of every size and sign,
/// HTTP dates near and far, and arbitrary bytes where `http` allows them.
fn header_value() -> impl Strategy<Value = http::HeaderValue> {
    let text = prop_oneof![
        "\\PC{0,40}",
        any::<f64>().prop_map(|f| f.to_string()),
        any::<i128>().prop_map(|i| i.to_string()),
        any::<u128>().prop_map(|i| format!("{i}{i}")),
        "[0-9eE.+-]{1,30}",
        Just("1e30".to_string()),
        Just("inf".to_string()),
        (0i64..=253_402_300_799).prop_map(|secs| {
            httpdate::fmt_http_date(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs as u64),
            )
        }),
    ]
    .prop_filter_map("not a header value", |s| {
        http::HeaderValue::from_str(&s).ok()
    });
    let bytes = proptest::collection::vec(any::<u8>(), 0..40)
        .prop_filter_map("not a header value", |b| {
            http::HeaderValue::from_bytes(&b).ok()
        });
    prop_oneof![3 => text, 1 => bytes]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    /// `Retry-After` and `retry-after-ms` with any value, on 429 and 503 answers to every
    /// operation: no panic, and every call ends (retried at most once of each kind). Before,
    /// `retry-after-ms: 1e30` panicked in `Duration::from_secs_f64` on every error answer.
    #[test]
    fn retry_headers_never_panic(
        status in prop_oneof![Just(429u16), Just(503u16)],
        seconds in proptest::option::of(header_value()),
        millis in proptest::option::of(header_value()),
    ) {
        let mut headers = Vec::new();
        if let Some(value) = seconds {
            headers.push((http::header::RETRY_AFTER, value));
        }
        if let Some(value) = millis {
            headers.push((http::HeaderName::from_static("retry-after-ms"), value));
        }
        let body = r#"{"success": false, "errors": [{"code": 971, "message": "slow down"}], "messages": [], "result": null}"#;
        let ran = RETRYING.with(|c| {
            let ran = every_operation(c.answer_with(status, headers, body));
            // Every operation, each tried at most twice (one retry of its kind).
            let requests = c.take_seen().len();
            assert!((OPERATIONS..=2 * OPERATIONS).contains(&requests), "{requests} requests");
            ran
        });
        prop_assert_eq!(ran, OPERATIONS);
    }
}

// ----- IDs -----

/// Strings an ID may be given as: any Unicode at all, and strings close to the real alphabet
/// and length with the characters that change a URL's meaning mixed in.
fn hostile_id() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => any::<String>(),
        2 => "[A-Za-z0-9_./\\\\%?#;:@ \t\n\u{0}ü-]{0,40}",
        1 => "[0-9a-f]{30,34}",
        1 => "[0-9]{0,22}",
        1 => proptest::sample::select(NAMED_HOSTILE_IDS).prop_map(str::to_owned),
    ]
}

/// Traversals, escapes, controls and lengths an ID must never smuggle into a path.
const NAMED_HOSTILE_IDS: &[&str] = &[
    r"..\..",
    r"a\..\b",
    r"\..\x",
    "%2e%2e%5c",
    "..%2F..",
    "a\tb",
    "a\nb",
    "a\u{0}b",
    "ü",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    r"..\..\..\..\zones\023e105f4ecef8ad9ca31a8372d0c353",
    ".",
    "..",
    "",
    "a/b",
    "a?b=1",
    "a#b",
    "%2e",
];

/// One operation that takes an ID: its path template with the ID's placeholder, and the call.
type IdCall<'a> = (
    &'static str,
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), apps_api::Error>> + 'a>>,
);

/// Runs every operation taking an ID of this kind with `id`, and asserts on each request the
/// responder received: none when the ID is invalid (and the call says so), otherwise exactly
/// the operation's path with the ID as one whole segment.
fn id_reaches_only_its_segment(kind: &str, id: &str) {
    CLIENTS.with(|c| {
        c.answer(
            404,
            r#"{"success": false, "errors": [], "messages": [], "result": null}"#,
        );
        c.take_seen();
        let valid = match kind {
            "account" => apps_api::AccountId::parse(id).is_ok(),
            "calls" => CallsAppId::parse(id).is_ok(),
            "magic" => MagicAppId::parse(id).is_ok(),
            "hover" => HoverAppId::parse(id).is_ok(),
            "turn" => apps_api::TurnKeyId::parse(id).is_ok(),
            "username" => apps_api::TurnUsername::parse(id).is_ok(),
            other => unreachable!("{other}"),
        };
        let calls_ops = |account: &str, app: &str| -> Vec<IdCall<'_>> {
            let calls = c.cf.calls(account.to_string());
            let app = CallsAppId::new(app);
            let (c1, c2, c3, c4, c5) = (
                calls.clone(),
                calls.clone(),
                calls.clone(),
                calls.clone(),
                calls,
            );
            let (a1, a2, a3) = (app.clone(), app.clone(), app);
            vec![
                (
                    "/client/v4/accounts/{account}/calls/apps",
                    Box::pin(async move { c1.list().await.map(drop) }),
                ),
                (
                    "/client/v4/accounts/{account}/calls/apps",
                    Box::pin(async move { c2.create(None).await.map(drop) }),
                ),
                (
                    "/client/v4/accounts/{account}/calls/apps/{calls}",
                    Box::pin(async move { c3.get(&a1).await.map(drop) }),
                ),
                (
                    "/client/v4/accounts/{account}/calls/apps/{calls}",
                    Box::pin(async move { c4.update(&a2, None).await.map(drop) }),
                ),
                (
                    "/client/v4/accounts/{account}/calls/apps/{calls}",
                    Box::pin(async move { c5.delete(&a3).await.map(drop) }),
                ),
            ]
        };
        let magic_ops = |account: &str, app: &str| -> Vec<IdCall<'_>> {
            let magic = c.cf.magic(account.to_string());
            let app = MagicAppId::new(app);
            let changes = MagicAppChanges::new().name("n");
            let (m1, m2, m3, m4, m5) = (
                magic.clone(),
                magic.clone(),
                magic.clone(),
                magic.clone(),
                magic,
            );
            let (a1, a2, a3) = (app.clone(), app.clone(), app);
            let (ch1, ch2) = (changes.clone(), changes);
            vec![
                (
                    "/client/v4/accounts/{account}/magic/apps",
                    Box::pin(async move { m1.list().await.map(drop) }),
                ),
                (
                    "/client/v4/accounts/{account}/magic/apps",
                    Box::pin(async move {
                        m2.create(&NewMagicApp::new("n", "t").hostnames(["h"]))
                            .await
                            .map(drop)
                    }),
                ),
                (
                    "/client/v4/accounts/{account}/magic/apps/{magic}",
                    Box::pin(async move { m3.update(&a1, &ch1).await.map(drop) }),
                ),
                (
                    "/client/v4/accounts/{account}/magic/apps/{magic}",
                    Box::pin(async move { m4.patch(&a2, &ch2).await.map(drop) }),
                ),
                (
                    "/client/v4/accounts/{account}/magic/apps/{magic}",
                    Box::pin(async move { m5.delete(&a3).await.map(drop) }),
                ),
            ]
        };
        let hover_ops = |app: &str| -> Vec<IdCall<'_>> {
            let apps = c.hover.apps();
            let app = HoverAppId::new(app);
            let (h1, h2, h3, h4) = (apps.clone(), apps.clone(), apps.clone(), apps);
            let (a1, a2, a3, a4) = (app.clone(), app.clone(), app.clone(), app);
            vec![
                (
                    "/api/apps/{hover}",
                    Box::pin(async move { h1.get(&a1).await.map(drop) }),
                ),
                (
                    "/api/apps/{hover}",
                    Box::pin(async move {
                        h2.update(&a2, &HoverAppChanges::new().name("n"))
                            .await
                            .map(drop)
                    }),
                ),
                (
                    "/api/apps/{hover}",
                    Box::pin(async move { h3.archive(&a3).await.map(drop) }),
                ),
                (
                    "/api/apps/{hover}/restore",
                    Box::pin(async move { h4.restore(&a4).await.map(drop) }),
                ),
            ]
        };
        let turn_ops = |key: &str, username: &str| -> Vec<IdCall<'_>> {
            let keys = c.cf.turn_keys("023e105f4ecef8ad9ca31a8372d0c353");
            let id = apps_api::TurnKeyId::new(key);
            let (k1, k2, k3) = (keys.clone(), keys.clone(), keys);
            let (i1, i2, i3) = (id.clone(), id.clone(), id.clone());
            let turn = apps_api::cloudflare::turn::TurnCredentials::builder(id, "fuzz-turn-key")
                .base_url("http://127.0.0.1:9/v1")
                .retry(RetryConfig::disabled())
                .responder(c.responder.clone());
            let username = apps_api::TurnUsername::new(username);
            let mut ops: Vec<IdCall<'_>> = vec![
                (
                    "/client/v4/accounts/023e105f4ecef8ad9ca31a8372d0c353/calls/turn_keys/{turn}",
                    Box::pin(async move { k1.get(&i1).await.map(drop) }),
                ),
                (
                    "/client/v4/accounts/023e105f4ecef8ad9ca31a8372d0c353/calls/turn_keys/{turn}",
                    Box::pin(async move { k2.update(&i2, None).await.map(drop) }),
                ),
                (
                    "/client/v4/accounts/023e105f4ecef8ad9ca31a8372d0c353/calls/turn_keys/{turn}",
                    Box::pin(async move { k3.delete(&i3).await.map(drop) }),
                ),
            ];
            match turn.build() {
                Ok(turn) => {
                    let t2 = turn.clone();
                    ops.push((
                        "/v1/turn/keys/{turn}/credentials/generate-ice-servers",
                        Box::pin(async move {
                            turn.ice_servers(std::time::Duration::from_secs(60))
                                .await
                                .map(drop)
                        }),
                    ));
                    ops.push((
                        "/v1/turn/keys/{turn}/credentials/{username}/revoke",
                        Box::pin(async move { t2.revoke(&username).await.map(drop) }),
                    ));
                }
                // An invalid key ID is refused when the client is built.
                Err(e) => {
                    let e2 = apps_api::Error::InvalidArgument(e.to_string());
                    ops.push((
                        "/v1/turn/keys/{turn}/credentials/generate-ice-servers",
                        Box::pin(async move { Err(e) }),
                    ));
                    ops.push((
                        "/v1/turn/keys/{turn}/credentials/{username}/revoke",
                        Box::pin(async move { Err(e2) }),
                    ));
                }
            }
            ops
        };
        let (account, calls_app, magic_app, hover_app) = (
            "023e105f4ecef8ad9ca31a8372d0c353",
            "2a95132c15732412d22c1476fa83f27a",
            "m1",
            "43120",
        );
        let ops = match kind {
            "account" => {
                let mut ops = calls_ops(id, calls_app);
                ops.extend(magic_ops(id, magic_app));
                ops
            }
            "calls" => calls_ops(account, id),
            "magic" => magic_ops(account, id),
            "turn" => turn_ops(id, "u5ername"),
            "username" => turn_ops(calls_app, id),
            _ => hover_ops(id),
        };
        for (template, call) in ops {
            let result = c.runtime.block_on(call);
            let seen = c.take_seen();
            let uses_id = template.contains(&format!("{{{kind}}}"));
            if !valid && uses_id {
                // Named, with the rule, quoting at most a few characters of the value (8,
                // escaped: an escape can double a character, so only IDs longer than 16 can be
                // told apart from their quote), in a message of bounded length.
                assert!(
                    matches!(&result, Err(apps_api::Error::InvalidArgument(m))
                        if (id.chars().count() <= 16 || !m.contains(id)) && m.len() < 300),
                    "{kind} {id:?}: {result:?}"
                );
                assert!(seen.is_empty(), "{kind} {id:?} sent {seen:?}");
                continue;
            }
            // Every answer here is a 404.
            assert!(
                matches!(result, Err(apps_api::Error::NotFound(_))),
                "{kind} {id:?}: {result:?}"
            );
            let expected = template
                .replace("{account}", if kind == "account" { id } else { account })
                .replace("{calls}", if kind == "calls" { id } else { calls_app })
                .replace("{magic}", if kind == "magic" { id } else { magic_app })
                .replace("{hover}", if kind == "hover" { id } else { hover_app })
                .replace("{turn}", if kind == "turn" { id } else { calls_app })
                .replace(
                    "{username}",
                    if kind == "username" { id } else { "u5ername" },
                );
            assert!(!seen.is_empty(), "{kind} {id:?}: a valid ID sent nothing");
            for (_, path) in seen {
                assert_eq!(path, expected, "{kind} {id:?}");
            }
        }
    });
}

#[test]
fn named_hostile_ids_never_leave_their_segment() {
    for kind in ["account", "calls", "magic", "hover", "turn", "username"] {
        for id in NAMED_HOSTILE_IDS {
            id_reaches_only_its_segment(kind, id);
        }
        // And the harness sees a valid one arrive whole.
        let valid = if kind == "hover" {
            "43120"
        } else {
            "2a95132c15732412d22c1476fa83f27a"
        };
        id_reaches_only_its_segment(kind, valid);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn account_ids_never_leave_their_segment(id in hostile_id()) {
        id_reaches_only_its_segment("account", &id);
    }

    #[test]
    fn calls_app_ids_never_leave_their_segment(id in hostile_id()) {
        id_reaches_only_its_segment("calls", &id);
    }

    #[test]
    fn magic_app_ids_never_leave_their_segment(id in hostile_id()) {
        id_reaches_only_its_segment("magic", &id);
    }

    #[test]
    fn hover_app_ids_never_leave_their_segment(id in hostile_id()) {
        id_reaches_only_its_segment("hover", &id);
    }

    #[test]
    fn turn_key_ids_never_leave_their_segment(id in hostile_id()) {
        id_reaches_only_its_segment("turn", &id);
    }

    #[test]
    fn turn_usernames_never_leave_their_segment(id in hostile_id()) {
        id_reaches_only_its_segment("username", &id);
    }
}
