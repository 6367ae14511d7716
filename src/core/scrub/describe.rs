//! Decode errors' view of a body and of serde's reason: what they are, never what they quote.

use super::{closing_quote, message, Known, SHORT_BYTES, SNIPPET_INPUT_BYTES};

/// What a body is, without quoting it: its kind, its size and, for a JSON object, its first
/// keys. For a success answer the client could not use, whose body may hold a secret the
/// client does not know yet (a created app's `secret`), which no scrubbing could recognise.
pub(crate) fn describe(body: &[u8], known: &Known) -> String {
    use serde_json::Value;
    const KEYS: usize = 10;
    let parsed = (body.len() <= SNIPPET_INPUT_BYTES)
        .then(|| serde_json::from_slice::<Value>(body).ok())
        .flatten();
    let kind = match parsed {
        Some(Value::Object(map)) => {
            let mut keys: Vec<String> = map
                .keys()
                .take(KEYS)
                .map(|key| message(key, known, SHORT_BYTES))
                .collect();
            if map.len() > KEYS {
                keys.push("…".into());
            }
            format!("a JSON object with keys [{}]", keys.join(", "))
        }
        Some(Value::Array(items)) => format!("a JSON array of {} items", items.len()),
        Some(_) => "a JSON value that is not an object".into(),
        None if body.trim_ascii().is_empty() => return "an empty body".into(),
        None if std::str::from_utf8(body).is_err() => "bytes that are not UTF-8".into(),
        None if body.trim_ascii_start().first() == Some(&b'<') => "markup (HTML or XML)".into(),
        None => "text that is not JSON".into(),
    };
    format!("{kind}, {} bytes", body.len())
}

/// A serde message about a body with the values it quotes taken out (`string "…"`,
/// ``unknown variant `…` ``): what [`describe`] is to a body, for the reason it did not decode.
pub(crate) fn without_values(reason: &str) -> String {
    const STRING: &str = "string \"";
    const VARIANT: &str = "variant `";
    let mut out = String::with_capacity(reason.len());
    let mut rest = reason;
    loop {
        let next = [STRING, VARIANT]
            .into_iter()
            .filter_map(|opener| rest.find(opener).map(|at| (at, opener)))
            .min();
        let Some((at, opener)) = next else { break };
        out.push_str(&rest[..at + opener.len()]);
        rest = &rest[at + opener.len()..];
        // serde writes a string as Rust's `Debug` does (`\"` inside), a variant as it is.
        let end = if opener == STRING {
            closing_quote(rest)
        } else {
            rest.rfind("`, expected").or_else(|| rest.rfind('`'))
        };
        out.push('…');
        match end {
            Some(end) => rest = &rest[end..],
            None => {
                rest = "";
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body the client could not use is described by kind, size and first keys, never quoted.
    #[test]
    fn a_body_is_described_not_quoted() {
        let known = Known::new(["s3cr3t-key"]);
        let cases: &[(&[u8], &str)] = &[
            (b"", "an empty body"),
            (b" \n", "an empty body"),
            (
                br#"{"b": "hunter2", "a\u001b[2J": 1, "s3cr3t-key": 2}"#,
                r"a JSON object with keys [a\u{1b}[2J, b, [redacted]], 50 bytes",
            ),
            (br#"["hunter2", 1]"#, "a JSON array of 2 items, 14 bytes"),
            (
                br#""hunter2""#,
                "a JSON value that is not an object, 9 bytes",
            ),
            (b"\xff\xfehunter2", "bytes that are not UTF-8, 9 bytes"),
            (b"  <html>hunter2</html>", "markup (HTML or XML), 22 bytes"),
            (b"hunter2", "text that is not JSON, 7 bytes"),
            (br#"{"a": "hunter2""#, "text that is not JSON, 15 bytes"),
        ];
        for (body, expected) in cases {
            assert_eq!(describe(body, &known), *expected);
        }
        // Ten keys are all listed; past ten, the first ten and an ellipsis.
        let object = |keys: usize| {
            let map: serde_json::Map<String, serde_json::Value> =
                (0..keys).map(|i| (format!("k{i:02}"), 0.into())).collect();
            serde_json::to_vec(&map).unwrap()
        };
        let ten = "k00, k01, k02, k03, k04, k05, k06, k07, k08, k09";
        assert_eq!(
            describe(&object(10), &known),
            format!("a JSON object with keys [{ten}], 81 bytes")
        );
        assert!(describe(&object(12), &known)
            .starts_with(&format!("a JSON object with keys [{ten}, …], ")));
        // Past the size examined, a body is not parsed.
        let mut huge = br#"{"a": ""#.to_vec();
        huge.resize(SNIPPET_INPUT_BYTES, b'x');
        huge.extend_from_slice(br#""}"#);
        assert_eq!(
            describe(&huge, &known),
            format!("text that is not JSON, {} bytes", huge.len())
        );
    }

    /// serde's reasons lose the strings and variants they quote from a body, and keep the rest.
    #[test]
    fn serde_reasons_lose_the_values_they_quote() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        enum Kind {
            Alpha,
            Beta,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Shape {
            n: Option<u32>,
            kind: Option<Kind>,
        }
        let reason = |body: &str| {
            without_values(&serde_json::from_str::<Shape>(body).unwrap_err().to_string())
        };
        assert_eq!(
            reason(r#"{"n": "hun\"ter2"}"#),
            r#"invalid type: string "…", expected u32 at line 1 column 17"#
        );
        assert_eq!(
            reason(r#"{"kind": "hun`ter2`, expected x"}"#),
            "unknown variant `…`, expected `Alpha` or `Beta` at line 1 column 32"
        );
        assert_eq!(
            without_values(r#"string "a" and string "b" and variant `c`, expected `d`"#),
            r#"string "…" and string "…" and variant `…`, expected `d`"#
        );
        assert_eq!(without_values(r#"cut string "abc"#), r#"cut string "…"#);
        assert_eq!(without_values("missing field `id`"), "missing field `id`");
    }
}
