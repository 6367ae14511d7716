//! Magic sites and their app configs: each operation's request as the server saw it, the rules
//! checked before sending, the app as one typed value, and who uses an app.

use apps_api::cloudflare::magic::{AppConfigChanges, NewAppConfig, SiteApp};
use apps_api::{AppConfigId, Error, MagicAppId, SiteId};
use httpmock::Method::{DELETE, GET, PATCH, POST, PUT};
use httpmock::MockServer;
use serde_json::{json, Value};

use crate::support::*;

/// How the tests call each operation ([`crate::drivers`]).
pub(crate) fn drivers() -> Vec<crate::drivers::Driver> {
    use crate::drivers::drive;
    vec![
        drive!(MAGIC_SITES_LIST_SITES, |h, ids| h
            .cf
            .magic(&ids["account_id"])
            .sites()),
        drive!(MAGIC_SITES_SITE_DETAILS, |h, ids| h
            .cf
            .magic(&ids["account_id"])
            .site(&SiteId::new(&ids["site_id"]))),
        drive!(MAGIC_SITE_APP_CONFIGS_LIST_APP_CONFIGS, |h, ids| h
            .cf
            .magic(&ids["account_id"])
            .app_configs(&SiteId::new(&ids["site_id"]))),
        drive!(MAGIC_SITE_APP_CONFIGS_ADD_APP_CONFIG, |h, ids| h
            .cf
            .magic(&ids["account_id"])
            .create_app_config(
                &SiteId::new(&ids["site_id"]),
                &NewAppConfig::new(SiteApp::Managed("cloudflare".into())).priority(1)
            )),
        drive!(MAGIC_SITE_APP_CONFIGS_UPDATE_APP_CONFIG, |h, ids| h
            .cf
            .magic(&ids["account_id"])
            .update_app_config(
                &SiteId::new(&ids["site_id"]),
                &AppConfigId::new(&ids["app_config_id"]),
                &AppConfigChanges::new().priority(1)
            )),
        drive!(MAGIC_SITE_APP_CONFIGS_PATCH_APP_CONFIG, |h, ids| h
            .cf
            .magic(&ids["account_id"])
            .patch_app_config(
                &SiteId::new(&ids["site_id"]),
                &AppConfigId::new(&ids["app_config_id"]),
                &AppConfigChanges::new().breakout(true)
            )),
        drive!(MAGIC_SITE_APP_CONFIGS_DELETE_APP_CONFIG, |h, ids| h
            .cf
            .magic(&ids["account_id"])
            .delete_app_config(
                &SiteId::new(&ids["site_id"]),
                &AppConfigId::new(&ids["app_config_id"])
            )),
    ]
}

const SITE: &str = "5e5b1e0d1a5a4c4c8b1f0e6e3b3c9d1a";
const OTHER_SITE: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
const CONFIG: &str = "6ad2b1bd5e2b4a2c9c6b5a5e4d3c2b1a";
const APP: &str = "ac60d3d0435248289d446cedd870bcf4";

fn envelope(result: Value) -> Value {
    json!({"success": true, "errors": [], "messages": [], "result": result})
}

fn config_json(site: &str, app: Value) -> Value {
    let mut config = json!({"id": CONFIG, "site_id": site, "breakout": true,
        "preferred_wans": ["wan-1", "wan-2"]});
    config
        .as_object_mut()
        .unwrap()
        .extend(app.as_object().unwrap().clone());
    config
}

fn configs_path(site: &str) -> String {
    cf_path(&format!("/magic/sites/{site}/app_configs"))
}

fn config_path() -> String {
    cf_path(&format!("/magic/sites/{SITE}/app_configs/{CONFIG}"))
}

#[tokio::test]
async fn sites_are_listed() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(GET)
                .path(cf_path("/magic/sites"))
                .header("authorization", format!("Bearer {TOKEN}"));
            then.status(200).json_body(envelope(json!([
                {"id": SITE, "name": "headquarters", "description": null, "ha_mode": true,
                 "connector_id": "c1", "location": {"lat": "1", "lon": "2"}}
            ])));
        })
        .await;
    let sites = cf(&server).magic(ACCOUNT).sites().await.unwrap();
    mock.assert_async().await;
    assert_eq!(sites.len(), 1);
    assert_eq!(sites[0].id, SiteId::new(SITE));
    assert_eq!(sites[0].name.as_deref(), Some("headquarters"));
    assert_eq!(sites[0].description, None);
    assert_eq!(sites[0].connector_id.as_deref(), Some("c1"));
    assert_eq!(sites[0].ha_mode, Some(true));
    assert_ran(&apps_api::operations::MAGIC_SITES_LIST_SITES);
}

#[tokio::test]
async fn a_site_is_fetched_by_its_id() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(GET)
                .path(cf_path(&format!("/magic/sites/{SITE}")))
                .header("authorization", format!("Bearer {TOKEN}"));
            then.status(200).json_body(envelope(json!(
                {"id": SITE, "name": "headquarters", "secondary_connector_id": "c2"}
            )));
        })
        .await;
    let site = cf(&server)
        .magic(ACCOUNT)
        .site(&SiteId::new(SITE))
        .await
        .unwrap();
    mock.assert_async().await;
    assert_eq!(site.id, SiteId::new(SITE));
    assert_eq!(site.name.as_deref(), Some("headquarters"));
    assert_eq!(site.secondary_connector_id.as_deref(), Some("c2"));
    assert_eq!(site.connector_id, None);
    assert_ran(&apps_api::operations::MAGIC_SITES_SITE_DETAILS);
}

#[tokio::test]
async fn app_configs_are_listed_with_their_app_as_one_value() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(GET)
                .path(configs_path(SITE))
                .header("authorization", format!("Bearer {TOKEN}"));
            then.status(200).json_body(envelope(json!([
                config_json(SITE, json!({"account_app_id": APP})),
                {"id": "c2", "site_id": SITE, "managed_app_id": "cloudflare", "priority": 1,
                 "breakout": null}
            ])));
        })
        .await;
    let configs = cf(&server)
        .magic(ACCOUNT)
        .app_configs(&SiteId::new(SITE))
        .await
        .unwrap();
    mock.assert_async().await;
    assert_eq!(configs.len(), 2);
    assert_eq!(configs[0].id, AppConfigId::new(CONFIG));
    assert_eq!(configs[0].site_id, SiteId::new(SITE));
    assert_eq!(configs[0].app, SiteApp::Account(MagicAppId::new(APP)));
    assert_eq!(configs[0].breakout, Some(true));
    assert_eq!(configs[0].preferred_wans, ["wan-1", "wan-2"]);
    assert_eq!(configs[1].app, SiteApp::Managed("cloudflare".into()));
    assert_eq!((configs[1].breakout, configs[1].priority), (None, Some(1)));
    assert_ran(&apps_api::operations::MAGIC_SITE_APP_CONFIGS_LIST_APP_CONFIGS);
}

#[tokio::test]
async fn a_config_without_exactly_one_app_is_a_decode_error() {
    for app in [
        json!({}),
        json!({"account_app_id": APP, "managed_app_id": "cloudflare"}),
    ] {
        let server = MockServer::start_async().await;
        server
            .mock_async(|when, then| {
                when.method(GET).path(configs_path(SITE));
                then.status(200)
                    .json_body(envelope(json!([config_json(SITE, app.clone())])));
            })
            .await;
        let err = cf(&server)
            .magic(ACCOUNT)
            .app_configs(&SiteId::new(SITE))
            .await
            .unwrap_err();
        match err {
            Error::Decode { reason, .. } => assert!(reason.contains("app"), "{reason}"),
            other => panic!("expected Decode, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn create_sends_one_app_and_the_decision() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path(configs_path(SITE))
                .header("authorization", format!("Bearer {TOKEN}"))
                .header("content-type", "application/json")
                .json_body(json!({"account_app_id": APP, "breakout": true,
                    "preferred_wans": ["wan-1", "wan-2"]}));
            then.status(200)
                .json_body(envelope(config_json(SITE, json!({"account_app_id": APP}))));
        })
        .await;
    let config = cf(&server)
        .magic(ACCOUNT)
        .create_app_config(
            &SiteId::new(SITE),
            &NewAppConfig::new(MagicAppId::new(APP))
                .breakout(true)
                .preferred_wans(["wan-1", "wan-2"]),
        )
        .await
        .unwrap();
    mock.assert_async().await;
    assert_eq!(config.id, AppConfigId::new(CONFIG));
    assert_eq!(config.app, SiteApp::Account(MagicAppId::new(APP)));
    assert_ran(&apps_api::operations::MAGIC_SITE_APP_CONFIGS_ADD_APP_CONFIG);
}

#[tokio::test]
async fn update_replaces_and_patch_switches_the_app_kind() {
    let server = MockServer::start_async().await;
    let put = server
        .mock_async(|when, then| {
            when.method(PUT)
                .path(config_path())
                .header("authorization", format!("Bearer {TOKEN}"))
                .json_body(json!({"account_app_id": APP, "priority": 1}));
            then.status(200).json_body(envelope(
                json!({"id": CONFIG, "site_id": SITE, "account_app_id": APP, "priority": 1}),
            ));
        })
        .await;
    let patch = server
        .mock_async(|when, then| {
            when.method(PATCH)
                .path(config_path())
                .header("authorization", format!("Bearer {TOKEN}"))
                .json_body(json!({"managed_app_id": "cloudflare"}));
            then.status(200)
                .json_body(envelope(json!({"id": CONFIG, "site_id": SITE,
                "managed_app_id": "cloudflare", "priority": 1})));
        })
        .await;
    let magic = cf(&server);
    let magic = magic.magic(ACCOUNT);
    let (site, config) = (SiteId::new(SITE), AppConfigId::new(CONFIG));
    let updated = magic
        .update_app_config(
            &site,
            &config,
            &AppConfigChanges::new()
                .app(MagicAppId::new(APP))
                .priority(1),
        )
        .await
        .unwrap();
    assert_eq!(updated.priority, Some(1));
    let patched = magic
        .patch_app_config(
            &site,
            &config,
            &AppConfigChanges::new().app(SiteApp::Managed("cloudflare".into())),
        )
        .await
        .unwrap();
    put.assert_async().await;
    patch.assert_async().await;
    assert_eq!(patched.app, SiteApp::Managed("cloudflare".into()));
    assert_ran(&apps_api::operations::MAGIC_SITE_APP_CONFIGS_UPDATE_APP_CONFIG);
    assert_ran(&apps_api::operations::MAGIC_SITE_APP_CONFIGS_PATCH_APP_CONFIG);
}

#[tokio::test]
async fn delete_returns_the_config_and_a_missing_one_is_an_api_error() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(DELETE)
                .path(config_path())
                .header("authorization", format!("Bearer {TOKEN}"));
            then.status(200)
                .json_body(envelope(json!({"id": CONFIG, "site_id": SITE,
                "managed_app_id": "cloudflare", "priority": 1})));
        })
        .await;
    let missing = server
        .mock_async(|when, then| {
            when.method(DELETE)
                .path(cf_path(&format!("/magic/sites/{SITE}/app_configs/gone")));
            then.status(404)
                .json_body(cf_failure(1002, "App config gone not found"));
        })
        .await;
    let magic = cf(&server);
    let magic = magic.magic(ACCOUNT);
    let deleted = magic
        .delete_app_config(&SiteId::new(SITE), &AppConfigId::new(CONFIG))
        .await
        .unwrap();
    mock.assert_async().await;
    assert_eq!(deleted.app, SiteApp::Managed("cloudflare".into()));
    assert_ran(&apps_api::operations::MAGIC_SITE_APP_CONFIGS_DELETE_APP_CONFIG);
    let err = magic
        .delete_app_config(&SiteId::new(SITE), &AppConfigId::new("gone"))
        .await
        .unwrap_err();
    missing.assert_async().await;
    match err {
        Error::NotFound(failure) => {
            assert_eq!(failure.status, 404);
            assert_eq!(failure.errors[0].code, Some(1002));
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_configs_and_ids_are_refused_before_sending() {
    let server = MockServer::start_async().await;
    let any = server
        .mock_async(|when, then| {
            when.any_request();
            then.status(500);
        })
        .await;
    let magic = cf(&server);
    let magic = magic.magic(ACCOUNT);
    let site = SiteId::new(SITE);
    let app = || NewAppConfig::new(MagicAppId::new(APP));
    for config in [
        app(),
        app().priority(2),
        app().priority(-1),
        app().priority(1).preferred_wans(["wan-1"]),
        app().breakout(false).preferred_wans(["wan-1"]),
        NewAppConfig::new(MagicAppId::new("../x")).breakout(true),
    ] {
        let err = magic.create_app_config(&site, &config).await.unwrap_err();
        assert!(
            matches!(err, Error::InvalidArgument(_)),
            "{config:?}: {err:?}"
        );
    }
    for bad in ["a/b", "..", "a?b", "a#b", "%2e", "a\\b", ""] {
        let err = magic.app_configs(&SiteId::new(bad)).await.unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{bad:?}: {err:?}");
        let err = magic
            .delete_app_config(&site, &AppConfigId::new(bad))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{bad:?}: {err:?}");
    }
    let config = AppConfigId::new(CONFIG);
    let err = magic
        .update_app_config(
            &site,
            &config,
            &AppConfigChanges::new().preferred_wans(["w"]),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("breakout"), "{err}");
    let err = magic
        .patch_app_config(&site, &config, &AppConfigChanges::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    any.assert_calls_async(0).await;
}

#[tokio::test]
async fn usage_finds_the_configs_that_point_at_an_app_on_every_site() {
    let server = MockServer::start_async().await;
    let sites = server
        .mock_async(|when, then| {
            when.method(GET).path(cf_path("/magic/sites"));
            then.status(200).json_body(envelope(json!([
                {"id": SITE, "name": "headquarters"}, {"id": OTHER_SITE, "name": "branch"},
                {"id": "gone", "name": "deleted since the list"}
            ])));
        })
        .await;
    let gone = server
        .mock_async(|when, then| {
            when.method(GET).path(configs_path("gone"));
            then.status(404)
                .json_body(cf_failure(1002, "Site gone not found"));
        })
        .await;
    let first = server
        .mock_async(|when, then| {
            when.method(GET).path(configs_path(SITE));
            then.status(200).json_body(envelope(json!([
                config_json(SITE, json!({"account_app_id": APP})),
                {"id": "c2", "site_id": SITE, "managed_app_id": "cloudflare", "priority": 1}
            ])));
        })
        .await;
    let second = server
        .mock_async(|when, then| {
            when.method(GET).path(configs_path(OTHER_SITE));
            then.status(200).json_body(envelope(json!([
                {"id": "c3", "site_id": OTHER_SITE, "account_app_id": "other", "priority": 1},
                {"id": "c4", "site_id": OTHER_SITE, "account_app_id": APP.to_uppercase(),
                 "priority": 1}
            ])));
        })
        .await;
    let magic = cf(&server);
    let magic = magic.magic(ACCOUNT);
    let uses = magic
        .configs_using(&SiteApp::Account(MagicAppId::new(APP)))
        .await
        .unwrap();
    // The same hex ID in capitals is the same app.
    assert_eq!(uses.len(), 2);
    assert_eq!(uses[0].site.name.as_deref(), Some("headquarters"));
    assert_eq!(uses[0].config.id, AppConfigId::new(CONFIG));
    assert_eq!(uses[1].config.id, AppConfigId::new("c4"));
    let uses = magic
        .configs_using(&SiteApp::Managed("cloudflare".into()))
        .await
        .unwrap();
    assert_eq!(uses.len(), 1);
    assert_eq!(uses[0].config.id, AppConfigId::new("c2"));
    assert!(magic
        .configs_using(&SiteApp::Account(MagicAppId::new("unused")))
        .await
        .unwrap()
        .is_empty());
    sites.assert_calls_async(3).await;
    first.assert_calls_async(3).await;
    second.assert_calls_async(3).await;
    gone.assert_calls_async(3).await;
}

/// A site ID from the server that is not one path segment stops `usage` with an argument error
/// naming it: its configs are never asked for at a path it would escape.
#[tokio::test]
async fn usage_refuses_a_site_id_from_the_server_that_would_leave_its_segment() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET).path(cf_path("/magic/sites"));
            then.status(200)
                .json_body(envelope(json!([{"id": "../../calls/apps", "name": "x"}])));
        })
        .await;
    let other = server
        .mock_async(|when, then| {
            when.path_includes("app_configs");
            then.status(200).json_body(envelope(json!([])));
        })
        .await;
    let err = cf(&server)
        .magic(ACCOUNT)
        .configs_using(&SiteApp::Managed("cloudflare".into()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidArgument(m) if m.contains("site ID")),
        "{err:?}"
    );
    other.assert_calls_async(0).await;
}

/// `usage` is one call: its requests share one deadline (the client's 2 minutes here), so a
/// server stalling each of them cannot stretch it, and a server listing more sites than one
/// call visits gets no request per site at all. (Virtual time, in-process answers.)
#[cfg(feature = "test-util")]
#[tokio::test(start_paused = true)]
async fn usage_keeps_one_deadline_and_a_bounded_fan_out() {
    use crate::support::in_process::*;
    use std::time::Duration;
    use tokio::time::Instant;

    fn envelope(result: Value) -> Response {
        json_response(
            200,
            json!({"success": true, "errors": [], "messages": [], "result": result}).to_string(),
        )
    }
    let site =
        |i: usize| json!({"id": format!("5e5b1e0d1a5a4c4c8b1f0e6e3b3c{i:04x}"), "name": "s"});

    // Each answer stalls 50 s (within the 60 s per try): three would take 150 s.
    let seen = Counts::default();
    let stalling = Responder::from_async(move |request| {
        seen.add(&request);
        let body = if request.uri().path().ends_with("/sites") {
            json!([site(1), site(2)])
        } else {
            json!([])
        };
        after(Duration::from_secs(50), envelope(body))
    });
    let client = cloudflare(stalling).build().unwrap();
    let start = Instant::now();
    let app = SiteApp::Account(MagicAppId::new("ac60d3d0435248289d446cedd870bcf4"));
    let error = client.magic(ACCOUNT).configs_using(&app).await.unwrap_err();
    assert!(
        matches!(&error, Error::Timeout { after, .. } if *after == Duration::from_secs(120)),
        "{error:?}"
    );
    assert_eq!(start.elapsed(), Duration::from_secs(120));
    // A handle's own total_timeout is the call's.
    let start = Instant::now();
    let error = client
        .magic(ACCOUNT)
        .total_timeout(Duration::from_secs(70))
        .configs_using(&app)
        .await
        .unwrap_err();
    assert!(matches!(&error, Error::Timeout { .. }), "{error:?}");
    assert_eq!(start.elapsed(), Duration::from_secs(70));

    // One site more than a call visits: the sites list only, then FanOut.
    let many = apps_api::cloudflare::magic::MAX_SITES_SEARCHED + 1;
    let counts = Counts::default();
    let seen = counts.clone();
    let listing = Responder::new(move |request| {
        seen.add(&request);
        envelope(Value::Array((0..many).map(site).collect()))
    });
    let error = cloudflare(listing)
        .build()
        .unwrap()
        .magic(ACCOUNT)
        .configs_using(&app)
        .await
        .unwrap_err();
    let Error::FanOut { listed, limit, .. } = &error else {
        panic!("{error:?}")
    };
    assert_eq!((*listed, *limit), (many, many - 1));
    assert!(
        error.to_string().contains("nothing was sent for them"),
        "{error}"
    );
    assert_eq!(counts.of(&cf_path("/magic/sites")), 1);
    assert_eq!(counts.total(), 1, "no config list was asked for");
}

/// A server that lies in a header on one try does not speak for the next: a 503 carrying a
/// `cf-ray` and a `Retry-After`, then a 404 carrying neither, is the 404's error alone (each
/// request's state is reset at each try). (Virtual time, in-process answers.)
#[cfg(feature = "test-util")]
#[tokio::test(start_paused = true)]
async fn a_retrys_error_carries_only_its_own_answers_headers() {
    use crate::support::in_process::*;

    let (tries, next) = counter();
    let server = Responder::new(move |_| {
        let failure = json!({"success": false, "errors": [{"code": 7003, "message": "no"}],
                             "messages": [], "result": null});
        let first = next() == 1;
        let mut answer = json_response(if first { 503 } else { 404 }, failure.to_string());
        if first {
            let headers = answer.headers_mut();
            headers.insert("cf-ray", "8a1b2c3d4e5f6789-FIRST".parse().unwrap());
            headers.insert("retry-after", "2".parse().unwrap());
        }
        answer
    });
    let client = cloudflare(server).build().unwrap();
    let error = client
        .magic(ACCOUNT)
        .site(&SiteId::new(SITE))
        .await
        .unwrap_err();
    assert_eq!(tries.load(std::sync::atomic::Ordering::SeqCst), 2);
    let Error::NotFound(failure) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(failure.status, 404);
    assert_eq!(failure.request_id, None, "{error:?}");
    assert_eq!(failure.retry_after, None, "{error:?}");
}

/// A server claiming success without the site, or with a list where one site belongs, is a
/// decode error, never a site made up.
#[tokio::test]
async fn a_site_answer_without_one_site_is_a_decode_error() {
    for result in [Value::Null, json!([{"id": SITE}]), json!({"name": "no id"})] {
        let server = MockServer::start_async().await;
        server
            .mock_async(|when, then| {
                when.method(GET)
                    .path(cf_path(&format!("/magic/sites/{SITE}")));
                then.status(200).json_body(envelope(result.clone()));
            })
            .await;
        let error = cf(&server)
            .magic(ACCOUNT)
            .site(&SiteId::new(SITE))
            .await
            .unwrap_err();
        assert!(matches!(error, Error::Decode { .. }), "{result}: {error:?}");
    }
}
