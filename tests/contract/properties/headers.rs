//! Response headers with any value, on every operation.

use proptest::prelude::*;

use super::every_operation;
use super::{allowed, cases, drivers, ids, BUDGETED, RETRYING};

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
            let operations = drivers().len();
            assert!((operations..=2 * operations).contains(&requests), "{requests} requests");
            ran
        });
        prop_assert_eq!(ran, drivers().len());
    }
}

/// A `Ratelimit` or `Ratelimit-Policy` value as a server may send it: well-formed with numbers
/// of every size and sign, nearly well-formed, or anything a header holds.
fn rate_limit_value(counts: &'static str) -> impl Strategy<Value = http::HeaderValue> {
    let (count, seconds) = (&counts[..1], &counts[1..]);
    prop_oneof![
        2 => (any::<i64>(), any::<i64>(), "[a-z]{0,8}").prop_map(move |(n, s, name)| {
            format!("\"{name}\";{count}={n};{seconds}={s}")
        }),
        2 => (0u32..50, 0u64..400).prop_map(move |(n, s)| {
            format!("\"default\";{count}={n};{seconds}={s}")
        }),
        1 => header_value().prop_map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
    ]
    .prop_filter_map("not a header value", |s| {
        http::HeaderValue::from_str(&s).ok()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    /// `Ratelimit`, `Ratelimit-Policy` and `Retry-After` with any value, on any answer to
    /// every operation of clients with rate budgets: no panic, and each request ends as its
    /// answer allows, or held back by its budget (nothing sent) when what the server said
    /// leaves no room before its deadline.
    #[test]
    fn rate_limit_headers_never_panic(
        status in prop_oneof![Just(200u16), Just(201), Just(429), Just(404), Just(503)],
        limit in proptest::option::of(rate_limit_value("rt")),
        policy in proptest::option::of(rate_limit_value("qw")),
        retry_after in proptest::option::of(header_value()),
    ) {
        let mut headers = Vec::new();
        for (name, value) in [("ratelimit", limit), ("ratelimit-policy", policy), ("retry-after", retry_after)] {
            if let Some(value) = value {
                headers.push((http::HeaderName::from_static(name), value));
            }
        }
        BUDGETED.with(|c| {
            c.answer_with(status, headers, "{}");
            for driver in drivers() {
                let result = c.run(&driver, &ids::valid_ids());
                let held = matches!(&result, Err(apps_api::Error::RateLimited(f)) if !f.sent);
                let _ = result.as_ref().map_err(ToString::to_string);
                prop_assert!(held || allowed(status, &result), "{}: {result:?}", driver.op.id);
            }
            Ok(())
        })?;
    }
}
