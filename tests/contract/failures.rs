//! Failing paths, for each provider: error envelopes, `success: false` on 200, 404, 401,
//! an HTML 502 page, an empty 200 body and a body of the wrong shape.

use apps_api::{CallsAppId, Error, HoverAppId, MagicAppId};
use httpmock::Method::{DELETE, GET, POST};
use httpmock::MockServer;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn cloudflare_error_envelope_surfaces_codes_messages_and_cf_ray() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET).path(cf_path("/calls/apps"));
            then.status(403)
                .header("cf-ray", "8a1b2c3d4e5f6789-LHR")
                .json_body(cf_failure(10000, "Authentication error"));
        })
        .await;
    let err = cf(&server).calls(ACCOUNT).list().await.unwrap_err();
    assert!(matches!(err, Error::Auth(_)), "{err:?}");
    assert_eq!(err.status(), Some(403));
    assert_eq!(err.codes(), [10000]);
    assert_eq!(err.api_errors()[0].message, "Authentication error");
    assert_eq!(err.request_id(), Some("8a1b2c3d4e5f6789-LHR"));
    assert!(!err.is_retryable());
    assert_eq!(
        err.to_string(),
        format!(
            "Cloudflare rejected the credentials: 10000 (Authentication error) on GET \
             {CF_PREFIX}/accounts/{ACCOUNT}/calls/apps, HTTP 403, cf-ray 8a1b2c3d4e5f6789-LHR"
        )
    );
}

#[tokio::test]
async fn cloudflare_400_lists_every_error_with_its_pointer() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path(cf_path("/magic/apps"));
            then.status(400).json_body(json!({
                "success": false, "result": null, "messages": [],
                "errors": [
                    {"code": 1003, "message": "Invalid subnet", "source": {"pointer": "/ip_subnets/0"},
                     "documentation_url": "https://developers.cloudflare.com/x"},
                    {"code": 1004, "message": "Name taken"}
                ]
            }));
        })
        .await;
    let app = apps_api::cloudflare::magic::NewMagicApp::new("a", "b").hostnames(["x"]);
    let err = cf(&server).magic(ACCOUNT).create(&app).await.unwrap_err();
    assert!(matches!(err, Error::Api(_)), "{err:?}");
    assert_eq!(err.codes(), [1003, 1004]);
    assert_eq!(
        err.api_errors()[0].pointer.as_deref(),
        Some("/ip_subnets/0")
    );
    assert_eq!(
        err.api_errors()[0].documentation_url.as_deref(),
        Some("https://developers.cloudflare.com/x")
    );
    let text = err.to_string();
    assert!(
        text.starts_with("Cloudflare API errors 1003 (Invalid subnet) at /ip_subnets/0; 1004 (Name taken) on POST"),
        "{text}"
    );
}

#[tokio::test]
async fn success_false_on_http_200_is_an_api_error() {
    let server = MockServer::start_async().await;
    // As Cloudflare sends it: `result` null (the Calls list read that as a malformed list).
    let body = cf_failure(7003, "Could not route");
    server
        .mock_async(|when, then| {
            when.method(GET).path(cf_path("/magic/apps"));
            then.status(200).json_body(body.clone());
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET).path(cf_path("/calls/apps"));
            then.status(200).json_body(body);
        })
        .await;
    let client = cf(&server);
    server
        .mock_async(|when, then| {
            when.method(POST).path(cf_path("/calls/apps"));
            then.status(200)
                .json_body(cf_failure(7003, "Could not route"));
        })
        .await;
    for err in [
        client.magic(ACCOUNT).list().await.unwrap_err(),
        client.calls(ACCOUNT).list().await.unwrap_err(),
        // Create documents 201 only: a 200 failure is still the error it reports.
        client.calls(ACCOUNT).create(None).await.unwrap_err(),
    ] {
        assert!(matches!(err, Error::Api(_)), "{err:?}");
        assert_eq!(err.status(), Some(200));
        assert_eq!(err.codes(), [7003]);
    }
}

#[tokio::test]
async fn not_found_for_each_provider() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET).path_prefix(cf_path("/calls/apps/"));
            then.status(404)
                .json_body(cf_failure(10404, "App not found"));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(DELETE).path_prefix(cf_path("/magic/apps/"));
            then.status(404)
                .json_body(cf_failure(1002, "App not found"));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/api/apps/1");
            then.status(404)
                .json_body(json!({"error": "Couldn't find App"}));
        })
        .await;
    let cf = cf(&server);
    let errors = [
        cf.calls(ACCOUNT)
            .get(&CallsAppId::new("00000000000000000000000000000000"))
            .await
            .unwrap_err(),
        cf.magic(ACCOUNT)
            .delete(&MagicAppId::new("missing"))
            .await
            .unwrap_err(),
        hover_with_token(&server)
            .apps()
            .get(&HoverAppId::new("1"))
            .await
            .unwrap_err(),
    ];
    for err in &errors {
        assert!(matches!(err, Error::NotFound(_)), "{err:?}");
        assert_eq!(err.status(), Some(404));
        assert!(!err.api_errors().is_empty());
    }
    assert_eq!(errors[0].codes(), [10404]);
    assert!(errors[2].to_string().contains("Couldn't find App"));
}

#[tokio::test]
async fn cloudflare_401_is_auth() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET).path(cf_path("/magic/apps"));
            then.status(401)
                .json_body(cf_failure(10001, "Unable to authenticate request"));
        })
        .await;
    let err = cf(&server).magic(ACCOUNT).list().await.unwrap_err();
    assert!(matches!(&err, Error::Auth(f) if f.status == 401), "{err:?}");
    assert_eq!(err.codes(), [10001]);
}

const HTML_502: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n\
    <center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n";

#[tokio::test]
async fn html_502_page_is_an_api_error_with_a_snippet_after_retries() {
    let server = MockServer::start_async().await;
    let calls = server
        .mock_async(|when, then| {
            when.method(GET).path(cf_path("/calls/apps"));
            then.status(502)
                .header("content-type", "text/html")
                .body(HTML_502);
        })
        .await;
    let hover_page = server
        .mock_async(|when, then| {
            when.method(GET).path("/api/apps/7");
            then.status(502)
                .header("content-type", "text/html")
                .body(HTML_502);
        })
        .await;
    let cf_err = cf(&server).calls(ACCOUNT).list().await.unwrap_err();
    let hover_err = hover_with_token(&server)
        .apps()
        .get(&HoverAppId::new("7"))
        .await
        .unwrap_err();
    for err in [&cf_err, &hover_err] {
        assert!(matches!(err, Error::Api(f) if f.status == 502), "{err:?}");
        assert!(err.is_retryable());
        let snippet = err.failure().unwrap().body_snippet.clone().unwrap();
        assert!(
            snippet.contains("502 Bad Gateway") && snippet.len() <= 210,
            "{snippet}"
        );
        // The page's words, not its markup.
        assert!(
            err.to_string().contains("HTTP 502, body: 502 Bad Gateway"),
            "{err}"
        );
    }
    // A GET is retried twice on 5xx before the error is returned.
    calls.assert_calls_async(3).await;
    hover_page.assert_calls_async(3).await;
}

#[tokio::test]
async fn empty_200_body_is_a_decode_error() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET).path(cf_path("/calls/apps"));
            then.status(200);
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/api/apps/7");
            then.status(200);
        })
        .await;
    let errors = [
        cf(&server).calls(ACCOUNT).list().await.unwrap_err(),
        hover_with_token(&server)
            .apps()
            .get(&HoverAppId::new("7"))
            .await
            .unwrap_err(),
    ];
    for err in errors {
        match &err {
            Error::Decode {
                status: 200,
                reason,
                ..
            } => assert_eq!(reason, "the body is empty"),
            other => panic!("expected Decode, got {other:?}"),
        }
    }
}

/// A success answer the client cannot use is described, never quoted: it may hold a secret no
/// scrubbing can recognise (short, under an ordinary key, new to the client).
#[tokio::test]
async fn a_success_body_that_cannot_be_used_is_described_not_quoted() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path(cf_path("/calls/apps"));
            then.status(201).json_body(json!({
                "success": true, "errors": [], "messages": [],
                "result": [{"name": "x", "pin": "hunter2-x"}]
            }));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET).path(cf_path("/calls/apps"));
            then.status(200)
                .header("content-type", "text/html")
                .body("<html><p>Sign in: your code is hunter2-x</p></html>");
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET)
                .path(cf_path("/calls/apps/a0000000000000000000000000000001"));
            // serde's reason would quote the string where an object belongs.
            then.status(200).json_body(json!({
                "success": true, "errors": [], "messages": [], "result": "hunter2-x"
            }));
        })
        .await;
    let client = cf(&server);
    let created = client.calls(ACCOUNT).create(None).await.unwrap_err();
    let listed = client.calls(ACCOUNT).list().await.unwrap_err();
    let got = client
        .calls(ACCOUNT)
        .get(&CallsAppId::new("a0000000000000000000000000000001"))
        .await
        .unwrap_err();
    for (err, kind) in [
        (
            got,
            "a JSON object with keys [errors, messages, result, success], 63 bytes",
        ),
        (
            created,
            "a JSON object with keys [errors, messages, result, success], 84 bytes",
        ),
        (listed, "markup (HTML or XML), 51 bytes"),
    ] {
        match &err {
            Error::Decode { body, .. } => assert_eq!(body, kind),
            other => panic!("expected Decode, got {other:?}"),
        }
        let text = format!("{err} {err:?}");
        assert!(!text.contains("hunter2"), "{text}");
    }
}

#[tokio::test]
async fn wrong_shape_is_a_decode_error_without_secrets() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path(cf_path("/calls/apps"));
            // `result` is a list where an object is expected, and it carries a secret.
            then.status(201).json_body(json!({
                "success": true, "errors": [], "messages": [],
                "result": [{"secret": "66bcf64aa8907b9f9d90ac17746a77ce394c393b92b3916633dc02846e608ad4"}]
            }));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(DELETE).path("/api/apps/7");
            then.status(200)
                .json_body(json!({"id": "seven", "archived": "yes"}));
        })
        .await;
    let cf_err = cf(&server).calls(ACCOUNT).create(None).await.unwrap_err();
    let hover_err = hover_with_token(&server)
        .apps()
        .archive(&HoverAppId::new("7"))
        .await
        .unwrap_err();
    for err in [cf_err, hover_err] {
        assert!(matches!(err, Error::Decode { .. }), "{err:?}");
        let text = format!("{err} {err:?}");
        assert!(!text.contains("66bcf64aa8907b9f"), "{text}");
    }
}
