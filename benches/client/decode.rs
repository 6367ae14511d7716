//! Section 1: every operation of the table, called through its contract-test driver
//! (`tests/contract/drivers.rs`) and answered in process (feature `test-util`) with the answer
//! its spec documents (the success response's example), against `serde_json` reading the same
//! body into a `serde_json::Value`. Nothing here names an operation: a new one is benched (and
//! checked in the smoke run) as soon as it has a spec example and a driver, which the spec and
//! contract tests require.

use std::sync::Arc;
use std::time::Duration;

use apps_api::cloudflare::sfu::RealtimeClient;
use apps_api::cloudflare::turn::TurnCredentials;
use apps_api::cloudflare::{CloudflareClient, Credentials};
use apps_api::hover::HoverClient;
use apps_api::operations::Operation;
use apps_api::test_util::{json_response, Responder};
use serde_json::Value;

use crate::drivers::{self, Handles, Ids};

const RATELIMIT: &str = "\"default\";r=99999999;t=300";
const POLICY: &str = "\"default\";q=100000000;w=300";

/// The clients the drivers call, every one answered by `answer`, with the default retry policy
/// and (for Cloudflare) a rate budget whose quota no run reaches.
fn handles(answer: Responder) -> Handles {
    let quota = Some(apps_api::Quota::new(u32::MAX, Duration::from_secs(300)));
    let cf = CloudflareClient::builder()
        .credentials(Credentials::api_token("bench-token"))
        .rate_budget(quota)
        .responder(answer.clone())
        .build()
        .unwrap();
    let hover = |login: bool| {
        let builder = HoverClient::builder().responder(answer.clone());
        let builder = if login {
            builder
                .credentials("bench@example.com", "bench-password")
                .login_cooldown(Duration::ZERO)
        } else {
            builder.token("bench-jwt")
        };
        builder.build().unwrap()
    };
    let (token, login) = (hover(false), hover(true));
    let (turn_answer, sfu_answer) = (answer.clone(), answer);
    Handles::new(
        cf,
        token,
        login,
        Box::new(move |key: &str| {
            TurnCredentials::builder(key, "bench-turn-key")
                .responder(turn_answer.clone())
                .build()
        }),
        // Without budgets: each session is paced (`SESSION_QUOTA`), which would time the pace.
        Box::new(move |app: &str| {
            RealtimeClient::builder(app, "bench-app-secret")
                .rate_budget(None)
                .responder(sfu_answer.clone())
                .build()
        }),
    )
}

/// An operation as its spec documents it: the success answer's status and example body, and an
/// example ID for each path parameter.
struct Documented {
    status: u16,
    body: &'static str,
    ids: Ids,
}

fn documented(operation: &Operation) -> Documented {
    let text = std::fs::read_to_string(operation.spec).unwrap();
    let spec: Value = yaml_serde::from_str(&text).unwrap();
    let (path, method) = (operation.path, operation.method);
    let (status, response) = crate::schema::success_response(&spec, path, method);
    let body = match response.pointer("/content/application~1json/example") {
        Some(example) => serde_json::to_string(example).unwrap(),
        // An answer without a body.
        None if response.get("content").is_none() => String::new(),
        None => panic!("{}: the spec's success answer has no example", operation.id),
    };
    let mut ids = Ids::default();
    for name in operation.parameters() {
        let example = &crate::schema::parameter(&spec, path, name)["example"];
        let example = example.as_str();
        let example =
            example.unwrap_or_else(|| panic!("{}: {{{name}}} has no example", operation.id));
        ids.0.insert(name, example.to_string());
    }
    Documented {
        status,
        body: Box::leak(body.into_boxed_str()),
        ids,
    }
}

/// `smoke`: each case twice, for `cargo test` (CI), which times nothing.
pub fn section(smoke: bool) {
    println!(
        "## Each operation's documented answer: the whole facade in process vs serde_json into \
         a `Value` (ns per call, best of 5)\n"
    );
    println!("| operation | facade | serde_json → Value | facade/Value |");
    println!("|---|---:|---:|---:|");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let drivers = drivers::all();
    for operation in apps_api::operations::ALL {
        let driver = drivers
            .iter()
            .find(|driver| driver.op == operation)
            .unwrap_or_else(|| panic!("{}: no contract-test driver", operation.id));
        let Documented { status, body, ids } = documented(operation);
        let answers = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = answers.clone();
        let handles = handles(Responder::new(move |_| {
            counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut answer = json_response(status, body);
            // As Cloudflare's answers carry them, with a quota no run reaches (the credential's
            // budget takes it in place of Cloudflare's 1,200 per 5 minutes).
            let headers = answer.headers_mut();
            headers.insert("ratelimit", RATELIMIT.parse().unwrap());
            headers.insert("ratelimit-policy", POLICY.parse().unwrap());
            answer
        }));
        let call = || {
            runtime
                .block_on((driver.run)(&handles, &ids))
                .unwrap_or_else(|e| panic!("{}: {e}", operation.id));
            1
        };
        call();
        assert!(
            answers.load(std::sync::atomic::Ordering::Relaxed) >= 1,
            "{}: nothing was sent",
            operation.id
        );
        let (facade_calls, plain_calls) = if smoke { (2, 2) } else { (20_000, 50_000) };
        let facade = super::time_per_call(facade_calls, call);
        let plain = super::time_per_call(plain_calls, || {
            usize::from(!serde_json::from_str::<Value>(body).is_ok_and(|v| v.is_null()))
        });
        println!(
            "| {} | {facade:.0} | {plain:.0} | {:.2}× |",
            operation.id,
            facade / plain
        );
    }
    println!();
}
