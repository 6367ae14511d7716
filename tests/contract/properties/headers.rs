//! Response headers with any value, on every operation.

use proptest::prelude::*;

use super::{cases, drivers, every_operation, RETRYING};

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
