//! Reading quotas and the rate-limit headers: exact cases, and a property test over arbitrary
//! header values.

use std::time::Duration;

use proptest::prelude::*;
use reqwest::header::{HeaderMap, HeaderValue};

use super::{DAY, SECOND};
use crate::core::budget::*;

#[test]
fn quotas_read_and_print() {
    for (text, quota) in [
        ("30/6s", Quota::new(30, 6 * SECOND)),
        (" 30 / 6 ", Quota::new(30, 6 * SECOND)),
        ("1200/5m", Quota::CLOUDFLARE),
        ("100/1h", Quota::new(100, 3600 * SECOND)),
        ("5/500ms", Quota::new(5, Duration::from_millis(500))),
        // The bounds themselves are kept: a millisecond, a day.
        ("1/1ms", Quota::new(1, Duration::from_millis(1))),
        ("1/24h", Quota::new(1, DAY)),
    ] {
        assert_eq!(text.parse::<Quota>(), Ok(quota), "{text}");
    }
    for text in [
        "", "30", "30/", "/6s", "0/6s", "30/0s", "30/6x", "-1/6s", "30/6.5s", "30/2d",
    ] {
        assert!(text.parse::<Quota>().is_err(), "{text}");
    }
    assert_eq!(Quota::CLOUDFLARE.to_string(), "1200/300s");
    assert_eq!(
        Quota::new(5, Duration::from_millis(500)).to_string(),
        "5/500ms"
    );
}

fn headers(lines: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in lines {
        map.append(
            reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

/// The headers as Cloudflare documents them, and every way they can be wrong.
#[test]
fn rate_limit_headers_are_read_strictly() {
    let full = |remaining: u32, reset: u64, policy: Option<(u32, u64)>| Reported {
        remaining: Some((remaining, Duration::from_secs(reset))),
        policy: policy.map(|(q, w)| Quota::new(q, Duration::from_secs(w))),
    };
    let policy = ("ratelimit-policy", r#""default";q=1200;w=300"#);
    type Headers<'a> = &'a [(&'a str, &'a str)];
    let cases: &[(Headers, Option<Reported>)] = &[
        (
            &[("ratelimit", r#""default";r=50;t=30"#), policy],
            Some(full(50, 30, Some((1200, 300)))),
        ),
        (
            &[("ratelimit", r#""default";r=50;t=30"#)],
            Some(full(50, 30, None)),
        ),
        (&[("ratelimit", "default;r=0;t=0")], Some(full(0, 0, None))),
        // A parameter given twice is its last value (RFC 9651).
        (
            &[("ratelimit", r#""default";r=x;r=5;t=3"#)],
            Some(full(5, 3, None)),
        ),
        (&[("ratelimit", r#""default";r=5;r=-1;t=3"#)], None),
        // The tightest of several limits, with its own policy; over several lines too.
        (
            &[
                ("ratelimit", r#""burst";r=9;t=1, "default";r=50;t=30"#),
                (
                    "ratelimit-policy",
                    r#""default";q=1200;w=300, "burst";q=10;w=1"#,
                ),
            ],
            Some(full(9, 1, Some((10, 1)))),
        ),
        (
            &[
                ("ratelimit", r#""default";r=50;t=30"#),
                ("ratelimit", r#""burst";r=9;t=1"#),
            ],
            Some(full(9, 1, None)),
        ),
        // A policy that does not parse or cannot be kept is left out; the limit stays.
        (
            &[
                ("ratelimit", r#""default";r=50;t=30"#),
                ("ratelimit-policy", r#""default";q=0;w=300"#),
            ],
            Some(full(50, 30, None)),
        ),
        (
            &[
                ("ratelimit", r#""default";r=50;t=30"#),
                ("ratelimit-policy", r#""default";q=1200;w=0"#),
            ],
            Some(full(50, 30, None)),
        ),
        (
            &[
                ("ratelimit", r#""default";r=50;t=30"#),
                ("ratelimit-policy", r#""default";q=1200"#),
            ],
            Some(full(50, 30, None)),
        ),
        (
            &[
                ("ratelimit", r#""default";r=50;t=30"#),
                ("ratelimit-policy", "q=1200, w="),
            ],
            Some(full(50, 30, None)),
        ),
        // A limit that does not parse, or whose numbers are not counts and seconds: ignored.
        (&[], None),
        (&[policy], None),
        (&[("ratelimit", "")], None),
        (&[("ratelimit", r#""default";r=50"#)], None),
        (&[("ratelimit", r#""default";t=30"#)], None),
        (&[("ratelimit", r#""default";r=-1;t=30"#)], None),
        (&[("ratelimit", r#""default";r=50;t=-30"#)], None),
        (&[("ratelimit", r#""default";r=5.0;t=30"#)], None),
        (&[("ratelimit", r#""default";r="5";t=30"#)], None),
        (&[("ratelimit", r#""default";r=50;t=86401"#)], None),
        (&[("ratelimit", r#""default";r=4294967296;t=30"#)], None),
        (
            &[("ratelimit", r#""default";r=50;t=30, "other";r=1"#)],
            None,
        ),
        (&[("ratelimit", r#"("default");r=50;t=30"#)], None),
        (&[("ratelimit", r#"7;r=50;t=30"#)], None),
        (&[("ratelimit", r#""default;r=50;t=30"#)], None),
        (&[("ratelimit", r#""default";r=50;t=30;"#)], None),
        (&[("ratelimit", "r=50, t=30")], None),
    ];
    for (lines, expected) in cases {
        assert_eq!(reported(&headers(lines), true), *expected, "{lines:?}");
        let without_policy = expected.map(|r| Reported { policy: None, ..r });
        assert_eq!(
            reported(&headers(lines), false),
            without_policy,
            "{lines:?}"
        );
    }
}

proptest! {
    #![proptest_config(crate::core::proptest_config())]

    /// Any bytes a header can hold: no panic, and what is believed is in range.
    #[test]
    fn rate_limit_headers_never_panic(
        limit in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..60),
            r#""[a-z]{0,6}";r=-?[0-9]{1,12};t=-?[0-9]{1,7}(, "[a-z]{1,3}";[rt]=[0-9.]{1,4})?"#
                .prop_map(String::into_bytes),
        ],
        policy in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..60),
            r#""[a-z]{0,6}";q=-?[0-9]{1,12};w=-?[0-9]{1,7}"#.prop_map(String::into_bytes),
        ],
    ) {
        let mut map = HeaderMap::new();
        for (name, value) in [("ratelimit", limit), ("ratelimit-policy", policy)] {
            if let Ok(value) = HeaderValue::from_bytes(&value) {
                map.insert(name, value);
            }
        }
        if let Some(report) = reported(&map, true) {
            let (_, reset) = report.remaining.unwrap();
            prop_assert!(reset <= Duration::from_secs(86_400));
            if let Some(policy) = report.policy {
                prop_assert!(policy.requests > 0 && !policy.window.is_zero());
                prop_assert!(policy.window <= Duration::from_secs(86_400));
            }
        }
    }
}
