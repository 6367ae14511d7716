//! The fake server through the facade: lifecycles, its behaviour (auth, validation,
//! isolation, PUT vs PATCH, secrets once), fault injection and concurrency.

use std::time::Duration;

use apps_api::cloudflare::magic::{MagicAppChanges, MagicListItem, NewMagicApp};
use apps_api::cloudflare::{CloudflareClient, Credentials};
use apps_api::fake::{FakeConfig, FakeServer, Fault};
use apps_api::hover::{HoverAppChanges, HoverClient, NewHoverApp};
use apps_api::{AccountId, CallsAppId, Error, HoverAppId, RetryConfig};
use serde_json::json;

use crate::support::raw;

#[tokio::test]
async fn calls_lifecycle() {
    let fake = FakeServer::start().await.unwrap();
    let cf = fake.cloudflare_client().unwrap();
    let calls = cf.calls(cf.default_account().unwrap());

    let created = calls.create(Some("first")).await.unwrap();
    assert_eq!(created.secret.expose().len(), 64);
    let id = created.app.id.clone().unwrap();
    assert_eq!(id.as_str().len(), 32);
    assert_eq!(
        calls.list().await.unwrap(),
        std::slice::from_ref(&created.app)
    );
    assert_eq!(calls.get(&id).await.unwrap(), created.app);

    let renamed = calls.update(&id, Some("second")).await.unwrap();
    assert_eq!(renamed.name.as_deref(), Some("second"));
    assert!(renamed.modified >= created.app.modified);
    assert_eq!(
        calls.delete(&id).await.unwrap().name.as_deref(),
        Some("second")
    );
    assert!(matches!(calls.get(&id).await, Err(Error::NotFound(_))));
    assert!(calls.list().await.unwrap().is_empty());
}

#[tokio::test]
async fn magic_lifecycle_put_replaces_and_patch_merges() {
    let fake = FakeServer::start().await.unwrap();
    let cf = fake.cloudflare_client().unwrap();
    let magic = cf.magic(fake.account_id());

    let app = magic
        .create(
            &NewMagicApp::new("Dash", "Development")
                .hostnames(["a.example"])
                .ip_subnets(["10.0.0.0/8"]),
        )
        .await
        .unwrap();
    assert_eq!(
        (app.hostnames.as_slice(), app.ip_subnets.as_slice()),
        (
            &["a.example".to_string()][..],
            &["10.0.0.0/8".to_string()][..]
        )
    );

    let listed = magic.list().await.unwrap();
    assert_eq!(
        listed
            .iter()
            .filter_map(MagicListItem::as_account_app)
            .collect::<Vec<_>>(),
        [&app]
    );
    assert!(listed
        .iter()
        .any(|i| matches!(i, MagicListItem::Managed(m) if m.id == "cloudflare")));

    let patched = magic
        .patch(
            &app.id,
            &MagicAppChanges::new().source_subnets(["192.0.2.0/24"]),
        )
        .await
        .unwrap();
    assert_eq!(
        patched.hostnames,
        ["a.example"],
        "PATCH keeps what it does not send"
    );
    assert_eq!(patched.source_subnets, ["192.0.2.0/24"]);

    let replaced = magic
        .update(&app.id, &MagicAppChanges::new().hostnames(["b.example"]))
        .await
        .unwrap();
    assert_eq!(replaced.hostnames, ["b.example"]);
    assert!(
        replaced.ip_subnets.is_empty() && replaced.source_subnets.is_empty(),
        "PUT replaces"
    );
    assert_eq!(replaced.name.as_deref(), Some("Dash"));

    assert_eq!(magic.delete(&app.id).await.unwrap().id, app.id);
    assert!(matches!(
        magic.delete(&app.id).await,
        Err(Error::NotFound(_))
    ));
}

#[tokio::test]
async fn hover_lifecycle() {
    let fake = FakeServer::start().await.unwrap();
    let hover = fake.hover_client().unwrap();
    let apps = hover.apps();

    let app = apps
        .create(
            &NewHoverApp::new("Example App", "com.example.app")
                .webhook_url("https://example.com/h"),
        )
        .await
        .unwrap();
    assert!(app.token.is_some() && app.webhook_secret.is_some());
    assert_eq!(app.organization_id, Some(62));
    assert_eq!(apps.get(&app.id).await.unwrap(), app);

    let updated = apps
        .update(
            &app.id,
            &HoverAppChanges::new()
                .package_name("com.example.app.v1")
                .clear_webhook_url(),
        )
        .await
        .unwrap();
    assert_eq!(updated.package_name, "com.example.app.v1");
    assert_eq!((updated.webhook_url, updated.webhook_secret), (None, None));

    let archived = apps.archive(&app.id).await.unwrap();
    assert!(archived.archived);
    assert_eq!(archived.id.to_string(), app.id.as_str());
    assert!(apps.get(&app.id).await.unwrap().archived_at.is_some());
    assert_eq!(apps.restore(&app.id).await.unwrap().archived_at, None);

    assert!(matches!(
        apps.get(&HoverAppId::new("999999")).await,
        Err(Error::NotFound(_))
    ));
}

#[tokio::test]
async fn credentials_are_checked() {
    let fake = FakeServer::start_with(
        FakeConfig::new()
            .cloudflare_token("right-token")
            .hover_login("me@example.com", "right-password"),
    )
    .await
    .unwrap();
    let wrong_cf = CloudflareClient::builder()
        .credentials(Credentials::api_token("wrong-token"))
        .base_url(fake.cloudflare_base_url())
        .build()
        .unwrap();
    let err = wrong_cf.calls(fake.account_id()).list().await.unwrap_err();
    assert!(matches!(err, Error::Auth(_)), "{err:?}");
    assert_eq!(err.codes(), [10000]);

    let wrong_hover = HoverClient::builder()
        .credentials("me@example.com", "wrong-password")
        .base_url(fake.hover_base_url())
        .build()
        .unwrap();
    let err = wrong_hover
        .apps()
        .get(&HoverAppId::new("1"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Auth(f) if f.endpoint.operation == "hover-authenticate"),
        "{err:?}"
    );

    let bare_token = HoverClient::builder()
        .token("not-issued-by-the-fake")
        .base_url(fake.hover_base_url())
        .build()
        .unwrap();
    let err = bare_token
        .apps()
        .get(&HoverAppId::new("1"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Auth(_)), "{err:?}");

    let right = fake.cloudflare_client().unwrap();
    assert!(right
        .calls(fake.account_id())
        .list()
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn each_account_sees_only_its_own_apps() {
    let fake = FakeServer::start().await.unwrap();
    let cf = fake.cloudflare_client().unwrap();
    let (a, b) = (AccountId::new("aaaa"), AccountId::new("bbbb"));
    let created = cf.calls(&a).create(Some("mine")).await.unwrap();
    let id = created.app.id.unwrap();
    assert_eq!(cf.calls(&a).list().await.unwrap().len(), 1);
    assert!(cf.calls(&b).list().await.unwrap().is_empty());
    assert!(matches!(
        cf.calls(&b).get(&id).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        cf.calls(&b).delete(&id).await,
        Err(Error::NotFound(_))
    ));
    cf.magic(&a)
        .create(&NewMagicApp::new("x", "y").hostnames(["h"]))
        .await
        .unwrap();
    let b_items = cf.magic(&b).list().await.unwrap();
    assert!(b_items.iter().all(|i| i.as_account_app().is_none()));
}

#[tokio::test]
async fn magic_validation_is_answered_with_error_envelopes() {
    let fake = FakeServer::start().await.unwrap();
    let url = format!(
        "{}/accounts/{}/magic/apps",
        fake.cloudflare_base_url(),
        fake.account_id()
    );
    for bad in [
        json!({"type": "t", "hostnames": ["h"]}),
        json!({"name": "n", "type": "t"}),
        json!({"name": "n", "type": "t", "ip_subnets": ["10.0.0.1"]}),
        json!({"name": "n", "type": "t", "ip_subnets": ["2001:db8::/32"]}),
        json!({"name": "n", "type": "t", "source_subnets": ["2001:db8::/129"]}),
    ] {
        let (status, body) =
            raw(&fake, reqwest::Method::POST, url.clone(), Some(bad.clone())).await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(body["success"], false, "{bad}");
        assert!(
            body["errors"][0]["code"].as_i64().unwrap() >= 1000,
            "{body}"
        );
        assert!(body["result"].is_null());
    }
    let (status, _) = raw(
        &fake,
        reqwest::Method::POST,
        url.clone(),
        Some(json!({"name": "n", "type": "t", "hostnames": []})),
    )
    .await;
    assert_eq!(status, 201, "an empty list counts as present");
    // Source subnets may be IPv6 (only ip_subnets is documented IPv4-only).
    let (status, body) = raw(
        &fake,
        reqwest::Method::POST,
        url.clone(),
        Some(json!({"name": "n", "type": "t", "source_subnets": ["2001:db8::/32"]})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn injected_faults() {
    let fake = FakeServer::start().await.unwrap();
    let builder = || {
        CloudflareClient::builder()
            .credentials(Credentials::ApiToken(fake.cloudflare_token().clone()))
            .base_url(fake.cloudflare_base_url())
            .retry(RetryConfig::default().base(Duration::from_millis(1)))
            // Real time (a real server): 1 s is far more than any answer here takes on a loaded
            // machine, and far less than the stall below.
            .request_timeout(Duration::from_secs(1))
    };
    let cf = builder().build().unwrap();
    let calls = cf.calls(fake.account_id());

    // 503 twice: a GET is retried through it.
    fake.inject_fault("calls-apps-list", 2, Fault::Status(503))
        .unwrap();
    assert!(calls.list().await.is_ok());

    // 503 on a create: not retried, and the next create works.
    fake.inject_fault("calls-apps-create-a-new-app", 1, Fault::Status(503))
        .unwrap();
    let err = calls.create(None).await.unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert!(calls.create(None).await.is_ok());

    // Without a rate budget, a Retry-After past the cap comes back at once. (With one, the
    // block would hold every later request of the token: the budget's tests.)
    let patient = builder().rate_budget(None).build().unwrap();
    fake.inject_fault(
        "calls-apps-list",
        1,
        Fault::RateLimited {
            retry_after: Some(Duration::from_secs(600)),
        },
    )
    .unwrap();
    let err = patient.calls(fake.account_id()).list().await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(600)));

    fake.inject_fault("calls-apps-retrieve-app-details", 1, Fault::MalformedBody)
        .unwrap();
    let err = calls
        .get(&CallsAppId::new("00000000000000000000000000000000"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");

    // Stalls longer than the timeout on every try.
    fake.inject_fault("calls-apps-list", 3, Fault::Stall(Duration::from_secs(30)))
        .unwrap();
    let err = calls.list().await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");

    assert!(matches!(
        fake.inject_fault("no-such-operation", 1, Fault::MalformedBody),
        Err(Error::InvalidArgument(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_clients() {
    let fake = FakeServer::start().await.unwrap();
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let cf = fake.cloudflare_client().unwrap();
            let hover = fake.hover_client().unwrap();
            let account = AccountId::new(format!("account{}", i % 4));
            tokio::spawn(async move {
                let created = cf.calls(&account).create(Some(&format!("app{i}"))).await?;
                let id = created.app.id.unwrap();
                assert_eq!(
                    cf.calls(&account).get(&id).await?.name,
                    Some(format!("app{i}"))
                );
                cf.calls(&account).delete(&id).await?;
                let app = hover
                    .apps()
                    .create(&NewHoverApp::new(format!("h{i}"), "com.x"))
                    .await?;
                assert_eq!(hover.apps().get(&app.id).await?.name, format!("h{i}"));
                hover.apps().archive(&app.id).await?;
                Ok::<_, Error>(())
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let cf = fake.cloudflare_client().unwrap();
    for i in 0..4 {
        assert!(cf
            .calls(format!("account{i}"))
            .list()
            .await
            .unwrap()
            .is_empty());
    }
}

/// A TURN key's whole life on the fake: created with its token once, listed, renamed, minting
/// credentials with its own token (not the account's), revoking one, and deleted, after which
/// its token mints nothing.
#[tokio::test]
async fn turn_key_lifecycle() {
    let fake = FakeServer::start().await.unwrap();
    let cf = fake.cloudflare_client().unwrap();
    let keys = cf.turn_keys(fake.account_id());
    let created = keys.create(Some("prod")).await.unwrap();
    assert_eq!(created.key.expose().len(), 64);
    let id = created.turn_key.id.clone().unwrap();
    assert_eq!(
        keys.list().await.unwrap(),
        std::slice::from_ref(&created.turn_key)
    );
    assert_eq!(keys.get(&id).await.unwrap(), created.turn_key);
    let renamed = keys.update(&id, Some("staging")).await.unwrap();
    assert_eq!(renamed.name.as_deref(), Some("staging"));

    let turn = fake
        .turn_credentials(id.clone(), created.key.clone())
        .unwrap();
    let ice = turn.ice_servers(Duration::from_secs(3600)).await.unwrap();
    let username = ice.username().unwrap();
    assert_eq!(username.as_str().len(), 96);
    let urls: Vec<&String> = ice.ice_servers.iter().flat_map(|s| &s.urls).collect();
    assert!(urls.iter().any(|u| u.starts_with("turns:")));
    let port_53 = |u: &str| u.ends_with(":53") || u.contains(":53?");
    assert!(urls.iter().any(|u| port_53(u)));
    let browser = ice.clone().without_port_53();
    let kept: Vec<&String> = browser.ice_servers.iter().flat_map(|s| &s.urls).collect();
    assert!(kept.iter().all(|u| !port_53(u)), "{kept:?}");
    assert!(kept.iter().any(|u| u.contains(":5349")), "{kept:?}");
    turn.revoke(&username).await.unwrap();
    turn.revoke(&username).await.unwrap();

    // The account token is not a TURN key's token.
    let wrong = fake
        .turn_credentials(id.clone(), fake.cloudflare_token().clone())
        .unwrap();
    let err = wrong
        .ice_servers(Duration::from_secs(60))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Auth(_)), "{err:?}");

    keys.delete(&id).await.unwrap();
    assert!(matches!(keys.get(&id).await, Err(Error::NotFound(_))));
    let err = turn.ice_servers(Duration::from_secs(60)).await.unwrap_err();
    assert!(
        matches!(err, Error::Auth(_)),
        "a deleted key mints nothing: {err:?}"
    );
}
