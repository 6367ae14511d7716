//! Property tests of every decoder: arbitrary bytes and arbitrary JSON (free-form, and shaped
//! like each provider's envelope) as the answer to every operation, through the whole facade
//! (generated decoding, envelope, conversion, error mapping), answered in process (feature
//! `test-util`); arbitrary response headers ([`headers`]); arbitrary IDs through every operation
//! that takes one ([`ids`]).
//!
//! Every operation is called through its driver ([`crate::drivers`]). Every case must end in `Ok` or the
//! typed `Error` its answer calls for, whose `Display` works; a panic fails the test. Cases per
//! property: `PROPTEST_CASES` (default 10,000).
#![cfg(feature = "test-util")]

mod headers;
mod ids;
mod sfu;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use proptest::prelude::*;
use serde_json::Value;

use apps_api::cloudflare::sfu::RealtimeClient;
use apps_api::cloudflare::turn::TurnCredentials;
use apps_api::cloudflare::{CloudflareClient, Credentials};
use apps_api::hover::HoverClient;
use apps_api::operations::Envelope;
use apps_api::test_util::Responder;
use apps_api::RetryConfig;

use crate::drivers::{all as drivers, Driver, Handles, Ids};

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
    handles: Handles,
    runtime: tokio::runtime::Runtime,
    answer: Arc<Mutex<Canned>>,
    seen: Seen,
    /// The operations the clients got answers to.
    answered: Arc<Mutex<std::collections::BTreeSet<&'static str>>>,
}

/// A sleeper that does not sleep (the header tests retry).
#[derive(Debug)]
struct NoWait;

impl apps_api::Sleeper for NoWait {
    fn sleep(&self, _: std::time::Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async {})
    }
}

impl Clients {
    /// Clients whose every request is answered with the current `answer`, with `retry`.
    fn new(retry: RetryConfig) -> Self {
        Self::with_budget(retry, None)
    }

    /// With Cloudflare's default rate budget, and quotas for Hover and TURN, at a host of its
    /// own (budgets are per process), on a paused clock (budget waits pass at once).
    fn budgeted() -> Self {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self::with_budget(RetryConfig::default(), Some(format!("budget-{n}.example")))
    }

    fn with_budget(retry: RetryConfig, budget_host: Option<String>) -> Self {
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
        let record = {
            let answered = answered.clone();
            move || {
                let answered = answered.clone();
                move |answer: &apps_api::ResponseInfo<'_>| {
                    answered.lock().unwrap().insert(answer.operation);
                }
            }
        };
        let quota = budget_host
            .as_ref()
            .map(|_| apps_api::Quota::new(100, std::time::Duration::from_secs(10)));
        let host = budget_host
            .as_deref()
            .map_or("http://127.0.0.1:9".to_string(), |h| format!("https://{h}"));
        let cf = CloudflareClient::builder()
            .on_response(record())
            .credentials(Credentials::api_token("fuzz-token"))
            .base_url(format!("{host}/client/v4"))
            .sleeper(Arc::new(NoWait))
            .retry(retry.clone())
            .responder(responder.clone());
        // Without a host of its own, no budget: every case answers at once, and a budget would
        // pace them (its own tests).
        let cf = match &budget_host {
            Some(_) => cf,
            None => cf.rate_budget(None),
        };
        let turn_builder = {
            let (retry, responder, record) = (retry.clone(), responder.clone(), record.clone());
            let host = host.clone();
            move |key: &str| {
                TurnCredentials::builder(key, "fuzz-turn-key")
                    .base_url(format!("{host}/v1"))
                    .rate_budget(quota)
                    .sleeper(Arc::new(NoWait))
                    .retry(retry.clone())
                    .on_response(record())
                    .responder(responder.clone())
            }
        };
        let sfu_builder = {
            let (retry, responder, record) = (retry.clone(), responder.clone(), record.clone());
            let host = host.clone();
            move |app: &str| {
                RealtimeClient::builder(app, "fuzz-app-secret")
                    .base_url(format!("{host}/v1"))
                    .rate_budget(quota)
                    .sleeper(Arc::new(NoWait))
                    .retry(retry.clone())
                    .on_response(record())
                    .responder(responder.clone())
            }
        };
        let hover = |with_password: bool| {
            let builder = HoverClient::builder()
                .on_response(record())
                .base_url(host.clone())
                .rate_budget(quota)
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
            handles: Handles::new(
                cf.build().unwrap(),
                hover(false),
                hover(true),
                // Building a client takes a while: the valid key's is built once.
                {
                    let valid = turn_builder(&ids::valid_ids()["key_id"]).build().unwrap();
                    Box::new(move |key| match key == &ids::valid_ids()["key_id"] {
                        true => Ok(valid.clone()),
                        false => turn_builder(key).build(),
                    })
                },
                {
                    let valid = sfu_builder(&ids::valid_ids()["app_id"]).build().unwrap();
                    Box::new(move |app| match app == &ids::valid_ids()["app_id"] {
                        true => Ok(valid.clone()),
                        false => sfu_builder(app).build(),
                    })
                },
            ),
            answered,
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .start_paused(budget_host.is_some())
                .build()
                .unwrap(),
            answer,
            seen,
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

    /// Runs `driver` with `ids`.
    fn run(&self, driver: &Driver, ids: &Ids) -> Result<(), apps_api::Error> {
        self.runtime.block_on((driver.run)(&self.handles, ids))
    }
}

thread_local! {
    // One set of clients per test thread, reused by every case.
    static CLIENTS: Clients = Clients::new(RetryConfig::disabled());
    // With one retry of each kind, so Retry-After is read, honoured and bounded.
    static RETRYING: Clients = Clients::new(
        RetryConfig::default().max_retries(1).max_rate_limit_retries(1),
    );
    // With rate budgets, on a paused clock.
    static BUDGETED: Clients = Clients::budgeted();
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

/// Runs every operation once against the canned answer; returns how many ended as that
/// answer allows ([`allowed`]).
fn every_operation(c: &Clients) -> usize {
    let status = c.answer.lock().unwrap().status;
    let ids = ids::valid_ids();
    drivers()
        .iter()
        .map(|driver| check(status, c.run(driver, &ids)))
        .sum()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(status in status(), body in proptest::collection::vec(any::<u8>(), 0..256)) {
        let ran = CLIENTS.with(|c| every_operation(c.answer(status, body)));
        prop_assert_eq!(ran, drivers().len());
    }

    #[test]
    fn arbitrary_json_never_panics(status in status(), body in shaped_json()) {
        let ran = CLIENTS.with(|c| every_operation(c.answer(status, body.to_string())));
        prop_assert_eq!(ran, drivers().len());
    }
}

/// Every operation of the specs has a facade method: each driver's call is answered as its
/// operation and as nothing else, and the drivers cover the operation table once each.
#[test]
fn every_operation_of_the_specs_has_a_facade_method() {
    let drivers = drivers();
    let mut ids: Vec<&str> = drivers.iter().map(|d| d.op.id).collect();
    ids.sort_unstable();
    let mut all: Vec<&str> = apps_api::operations::ALL.iter().map(|op| op.id).collect();
    all.sort_unstable();
    assert_eq!(ids, all, "one driver per operation of the table");
    CLIENTS.with(|c| {
        c.answer(404, "{}");
        for driver in &drivers {
            c.answered.lock().unwrap().clear();
            let _ = c.run(driver, &ids::valid_ids());
            let answered = c.answered.lock().unwrap().clone();
            assert_eq!(
                answered.into_iter().collect::<Vec<_>>(),
                vec![driver.op.id],
                "the driver of {} runs another operation",
                driver.op.id
            );
        }
    });
}

#[test]
fn the_harness_decodes_a_real_answer() {
    // The harness must reach the decoders: a documented answer decodes to Ok.
    let body = include_str!("../../fixtures/docs/calls-list.response.json");
    let apps = CLIENTS.with(|c| {
        c.runtime
            .block_on(c.answer(200, body).handles.cf.calls("acc").list())
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
    /// the API error it reports for every operation of the Cloudflare API, never a decode
    /// error. (The Calls list read a null `result` as a malformed list until its schema allowed
    /// null.)
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
            for driver in drivers().iter().filter(|d| d.op.envelope == Envelope::Cloudflare) {
                let op = driver.op.id;
                match c.run(driver, &ids::valid_ids()) {
                    Err(apps_api::Error::Api(failure)) => {
                        assert_eq!(failure.status, 200, "{op}");
                        let codes: Vec<i64> = failure.errors.iter().filter_map(|e| e.code).collect();
                        assert_eq!(codes, expected, "{op}");
                    }
                    other => panic!("{op}: {other:?} for {body}"),
                }
            }
        });
    }
}
