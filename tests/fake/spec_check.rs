//! Proof of fidelity: the fake's answers, for every operation and every
//! fault, and the client's requests, validate against the specs.
//!
//! What "validates" means per fault: an error answer against the operation's declared error
//! schema (the specs declare `4XX`; a 5xx envelope and a `success: false` on HTTP 200 are held
//! to the same failure schema); a fault that serves the request normally (a stall, a trickle)
//! against the success schema; the faults whose point is not to be the API's answer
//! (a malformed body, an edge HTML page, a connection closed mid-body) are checked for being
//! exactly that.

use std::time::Duration;

use apps_api::fake::{FakeServer, Fault};
use apps_api::operations::{Credential, Envelope, Operation, ALL};
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{http, send};
use crate::{fresh, schema};

/// One request for `op` against fresh resources, with its credentials and the spec's example
/// body: each path parameter names a resource made for it, the spec's security says which
/// credential (none: the login, sent the fake's own credentials).
async fn fresh_request(fake: &FakeServer, op: &Operation, spec: &Value) -> Request {
    let parameters: Vec<&'static str> = op.parameters().collect();
    let fresh = fresh::fresh(fake, &parameters).await;
    let base = match op.envelope {
        Envelope::Plain => fake.realtime_base_url(),
        Envelope::JsonApi => fake.hover_base_url(),
        _ => fake.cloudflare_base_url(),
    };
    let mut url = format!("{base}{}", op.path);
    for (parameter, id) in &fresh.ids {
        url = url.replace(&format!("{{{parameter}}}"), id);
    }
    let mut body = schema::request_example(spec, op.path, op.method).cloned();
    let login = json!({"email": fake.hover_email(), "password": fake.hover_password().expose()});
    let credential = match op.credential {
        Credential::None => {
            body = Some(login);
            None
        }
        Credential::TurnKey => {
            let key = fresh
                .turn_key
                .as_ref()
                .expect("the data plane names its key");
            Some(format!("Bearer {}", key.key.expose()))
        }
        Credential::AppSecret => {
            let secret = fresh.app_secret.as_ref().expect("the SFU names its app");
            Some(format!("Bearer {}", secret.expose()))
        }
        Credential::HoverJwt => {
            let url = format!("{}/api/authenticate", fake.hover_base_url());
            let (_, answer) = send(Method::POST, &url, &[], Some(login)).await;
            Some(answer["auth_token"].as_str().unwrap().to_string())
        }
        _ => Some(format!("Bearer {}", fake.cloudflare_token().expose())),
    };
    let headers = credential
        .map(|c| ("authorization", c))
        .into_iter()
        .collect();
    Request { url, headers, body }
}

/// One request, with its credentials and body.
struct Request {
    url: String,
    headers: Vec<(&'static str, String)>,
    body: Option<Value>,
}

/// Every fault kind, with how its answer is judged.
fn faults(op: &Operation) -> Vec<Fault> {
    let mut all = vec![
        Fault::Status(404),
        Fault::Status(409),
        Fault::Status(503),
        Fault::RateLimited {
            retry_after: Some(Duration::from_secs(2)),
        },
        Fault::RateLimited { retry_after: None },
        Fault::MalformedBody,
        Fault::Stall(Duration::from_millis(10)),
        Fault::WafBlock,
        Fault::ClosedMidBody,
        Fault::Trickle(Duration::from_millis(1)),
    ];
    if cloudflare_api(op) {
        all.push(Fault::SuccessFalse);
    }
    all
}

/// Whether an operation is of Cloudflare's API (its envelope has `success`), not the data plane.
fn cloudflare_api(op: &Operation) -> bool {
    op.envelope == Envelope::Cloudflare
}

#[tokio::test]
async fn every_answer_to_every_operation_and_fault_validates() {
    let fake = FakeServer::start().await.unwrap();
    let mut checked = 0;
    for op in ALL {
        let spec: Value = yaml_serde::from_str(&std::fs::read_to_string(op.spec).unwrap()).unwrap();
        let (operation, template, method) = (op.id, op.path, op.method);
        let faults = std::iter::once(None).chain(faults(op).into_iter().map(Some));
        for fault in faults {
            let request = fresh_request(&fake, op, &spec).await;
            if let Some(fault) = &fault {
                fake.inject_fault(operation, 1, fault.clone()).unwrap();
            }
            let mut builder = http().request(method.parse().unwrap(), &request.url);
            for (name, value) in &request.headers {
                builder = builder.header(*name, value);
            }
            if let Some(body) = &request.body {
                builder = builder.json(body);
            }
            let here = format!("{operation} with {fault:?}");
            let response = builder.send().await;
            if fault == Some(Fault::ClosedMidBody) {
                let response = response.unwrap();
                if response.status() == 204 {
                    // An answer without a body has nothing to cut.
                    assert!(response.bytes().await.unwrap().is_empty(), "{here}");
                } else {
                    assert!(response.bytes().await.is_err(), "{here}: the body was cut");
                }
                checked += 1;
                continue;
            }
            let response = response.unwrap();
            let status = response.status().as_u16();
            let content_type = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            let has_ray = response.headers().contains_key("cf-ray");
            let retry_after = response.headers().get("retry-after").cloned();
            let text = response.text().await.unwrap();
            match &fault {
                Some(Fault::MalformedBody) => {
                    assert_eq!(status, 200, "{here}");
                    assert!(serde_json::from_str::<Value>(&text).is_err(), "{here}");
                }
                Some(Fault::WafBlock) => {
                    assert_eq!(status, 403, "{here}");
                    assert!(content_type.starts_with("text/html") && has_ray, "{here}");
                    assert!(text.contains("Sorry, you have been blocked"), "{here}");
                }
                _ if text.is_empty() && status == 204 => {
                    // An answer without a body: the operation must declare one (a 204, or a
                    // 2XX without content).
                    let responses = &spec["paths"][template][method.to_lowercase()]["responses"];
                    let declared = responses.get("204").or_else(|| responses.get("2XX"));
                    assert!(
                        declared.is_some_and(|r| r.get("content").is_none()),
                        "{here}: an undeclared answer without a body"
                    );
                    checked += 1;
                }
                _ => {
                    let body: Value = serde_json::from_str(&text)
                        .unwrap_or_else(|e| panic!("{here}: not JSON ({e}): {text}"));
                    let judged_as = match &fault {
                        // Held to the failure schema: the API's error shape.
                        Some(Fault::SuccessFalse) | Some(Fault::Status(503)) => 400,
                        _ => status,
                    };
                    let schema = schema::response_schema(&spec, template, method, judged_as);
                    checked += schema::check_example(&spec, schema, &body, &here);
                    if let Some(Fault::RateLimited { retry_after: wait }) = &fault {
                        assert_eq!(status, 429, "{here}");
                        assert_eq!(retry_after.is_some(), wait.is_some(), "{here}");
                    }
                }
            }
        }
    }
    // Per operation: the plain answer, 7 schema-checked faults and the cut body; the Cloudflare
    // API's also `success_false`. (Malformed bodies and block pages are checked, not counted.)
    let expected: usize = ALL
        .iter()
        .map(|op| 9 + usize::from(cloudflare_api(op)))
        .sum();
    assert_eq!(checked, expected, "checked {checked}");
}
