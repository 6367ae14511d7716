//! The fake keeps site app configs consistent with the apps: a config points at an account app
//! of its account or a managed app the list shows, the API's rules are answered with its
//! validation errors, and an app's configs go with it.

use apps_api::cloudflare::magic::{AppConfigChanges, NewAppConfig, NewMagicApp, SiteApp};
use apps_api::fake::FakeServer;
use apps_api::{AppConfigId, Error, MagicAppId, SiteId};

fn api_code(result: Result<impl std::fmt::Debug, Error>) -> (u16, i64) {
    match result {
        Err(Error::Api(f) | Error::NotFound(f)) => (f.status, f.errors[0].code.unwrap()),
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn configs_point_at_apps_that_exist_and_go_with_them() {
    let fake = FakeServer::start().await.unwrap();
    let cf = fake.cloudflare_client().unwrap();
    let magic = cf.magic(fake.account_id());
    let sites = magic.sites().await.unwrap();
    assert_eq!(sites.len(), 2);
    for listed in &sites {
        assert_eq!(&magic.site(&listed.id).await.unwrap(), listed);
    }
    let site = &sites[0].id;

    // An app that does not exist, of either kind, or on a site that does not.
    let missing = NewAppConfig::new(MagicAppId::new("0123456789abcdef")).priority(1);
    assert_eq!(
        api_code(magic.create_app_config(site, &missing).await),
        (400, 1002)
    );
    let unknown = NewAppConfig::new(SiteApp::Managed("nope".into())).priority(1);
    assert_eq!(
        api_code(magic.create_app_config(site, &unknown).await),
        (400, 1002)
    );
    let managed = NewAppConfig::new(SiteApp::Managed("cloudflare".into())).priority(1);
    let nowhere = SiteId::new("ffffffffffffffffffffffffffffffff");
    assert_eq!(
        api_code(magic.create_app_config(&nowhere, &managed).await),
        (404, 1002)
    );
    assert_eq!(api_code(magic.site(&nowhere).await), (404, 1002));

    let app = NewMagicApp::new("a", "t").hostnames(["a.example"]);
    let app = magic.create(&app).await.unwrap().id;
    let config = NewAppConfig::new(app.clone())
        .breakout(true)
        .preferred_wans(["wan-1"]);
    let config = magic.create_app_config(site, &config).await.unwrap();
    assert_eq!(config.app, SiteApp::Account(app.clone()));
    assert_eq!(&config.site_id, site);

    // A merge keeps breakout (so the WANs stay valid); a replacement without it does not.
    let patched = magic
        .patch_app_config(site, &config.id, &AppConfigChanges::new().priority(1))
        .await
        .unwrap();
    assert_eq!((patched.breakout, patched.priority), (Some(true), Some(1)));
    assert_eq!(patched.preferred_wans, ["wan-1"]);
    let replaced = magic
        .update_app_config(site, &config.id, &AppConfigChanges::new().priority(0))
        .await
        .unwrap();
    assert_eq!((replaced.breakout, replaced.priority), (None, Some(0)));
    assert!(replaced.preferred_wans.is_empty());
    assert_eq!(replaced.app, SiteApp::Account(app.clone()));
    // Preferred WANs on a config without breakout: the API's rule, from the fake.
    let wans = AppConfigChanges::new().preferred_wans(["wan-1"]);
    assert_eq!(
        api_code(magic.patch_app_config(site, &config.id, &wans).await),
        (400, 1003)
    );

    // The other site has none; another account sees none.
    assert!(magic.app_configs(&sites[1].id).await.unwrap().is_empty());
    let other = cf.magic("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert!(other.app_configs(site).await.unwrap().is_empty());
    let foreign = NewAppConfig::new(app.clone()).priority(1);
    assert_eq!(
        api_code(other.create_app_config(site, &foreign).await),
        (400, 1002)
    );

    // ASSUMPTION of the fake: deleting the app deletes the configs that point at it.
    magic.delete(&app).await.unwrap();
    assert!(magic.app_configs(site).await.unwrap().is_empty());
    let gone = magic.delete_app_config(site, &config.id).await;
    assert_eq!(api_code(gone), (404, 1002));
    let unknown_config = AppConfigId::new("nope");
    let priority = AppConfigChanges::new().priority(1);
    let gone = magic.patch_app_config(site, &unknown_config, &priority);
    assert_eq!(api_code(gone.await), (404, 1002));
}
