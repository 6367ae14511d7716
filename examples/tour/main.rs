//! A tour of the three APIs: each app's whole lifecycle, step by step, with the status each
//! answer actually had.
//!
//! ```sh
//! cargo run --example tour --features fake            # on the embedded fake server
//! cargo run --example tour --features fake -- --live  # on the live APIs in your environment
//! ```
//!
//! With no credentials in the environment it starts the fake server and tours it. With
//! `CLOUDFLARE_API_TOKEN` (or `CLOUDFLARE_API_KEY` + `CLOUDFLARE_EMAIL`, which Magic accepts
//! and Calls does not) and `CLOUDFLARE_ACCOUNT_ID`, and/or `HOVER_API_TOKEN` (or
//! `HOVER_EMAIL` with `HOVER_PASSWORD`), it tours those services instead (at `CLOUDFLARE_BASE_URL` /
//! `HOVER_BASE_URL` if set, and TURN credentials and the Realtime SFU at
//! `CLOUDFLARE_REALTIME_BASE_URL`), but only with `--live`: it creates uniquely named apps and a
//! TURN key, and deletes or archives them at the end even when a step fails.

mod sfu;

use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use apps_api::cloudflare::magic::{
    Magic, MagicAppChanges, MagicListItem, NewAppConfig, NewMagicApp, SiteApp,
};
use apps_api::cloudflare::turn::TurnCredentials;
use apps_api::cloudflare::{CloudflareClient, Credentials};
use apps_api::fake::FakeServer;
use apps_api::hover::{HoverApp, HoverAppChanges, HoverClient, NewHoverApp};
use apps_api::{AccountId, Error, MagicAppId};

const CLOUDFLARE_VARS: [&str; 2] = ["CLOUDFLARE_API_TOKEN", "CLOUDFLARE_API_KEY"];
const HOVER_VARS: [&str; 3] = ["HOVER_API_TOKEN", "HOVER_EMAIL", "HOVER_PASSWORD"];

fn is_set(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.trim().is_empty())
}

fn any_set(names: &[&str]) -> bool {
    names.iter().any(|n| is_set(n))
}

/// The status of every answer the clients received since the last step was printed.
#[derive(Clone, Default)]
struct Answers(Arc<Mutex<Vec<u16>>>);

impl Answers {
    fn hook(&self) -> impl Fn(&apps_api::ResponseInfo<'_>) + Send + Sync + 'static {
        let answers = self.0.clone();
        move |answer| answers.lock().unwrap().push(answer.status)
    }

    /// Prints one step: operation, method, path template and the status the server gave it
    /// (the last answer, after any retries; `200×3` for a step of three requests answered
    /// alike), then the fields.
    fn step(&self, operation: &str, method: &str, path: &str, fields: &[(&str, String)]) {
        let mut answers = self.0.lock().unwrap();
        let status = match answers.as_slice() {
            [] => "-".to_string(),
            [first, rest @ ..] if !rest.is_empty() && rest.iter().all(|s| s == first) => {
                format!("{first}×{}", answers.len())
            }
            [.., last] => last.to_string(),
        };
        answers.clear();
        drop(answers);
        println!("  {operation:<9} {method:<6} {path:<52} {status}");
        if !fields.is_empty() {
            let row: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
            println!("            {}", row.join("  "));
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let live = std::env::args().skip(1).any(|a| a == "--live");
    let (cloudflare_env, hover_env) = (any_set(&CLOUDFLARE_VARS), any_set(&HOVER_VARS));

    if (cloudflare_env || hover_env) && !live {
        let found: Vec<&str> = CLOUDFLARE_VARS
            .iter()
            .chain(HOVER_VARS.iter())
            .copied()
            .filter(|n| is_set(n))
            .collect();
        eprintln!(
            "Credentials are set in the environment ({}).\n\
             The tour creates, changes and deletes apps, so it touches a live service only when \
             asked:\n  cargo run --example tour --features fake -- --live\n\
             or unset them to tour the embedded fake server.",
            found.join(", ")
        );
        return ExitCode::from(2);
    }
    if live && !cloudflare_env && !hover_env {
        eprintln!(
            "--live needs credentials in the environment: {CLOUDFLARE_VARS:?} or {HOVER_VARS:?}"
        );
        return ExitCode::from(2);
    }

    let answers = Answers::default();
    // Keep the fake alive for the whole tour.
    let mut fake = None;
    let mut realtime_base_url = std::env::var("CLOUDFLARE_REALTIME_BASE_URL").ok();
    let (cloudflare, hover) = if live {
        let cloudflare = cloudflare_env.then(|| {
            let builder = CloudflareClient::builder_from_env()?;
            let tokens_only = is_set("CLOUDFLARE_API_TOKEN");
            let client = builder.on_response(answers.hook()).build()?;
            Ok((client.default_account()?, client, tokens_only))
        });
        let hover = hover_env.then(|| {
            let can_log_in = is_set("HOVER_EMAIL");
            let client = HoverClient::builder_from_env()?
                .on_response(answers.hook())
                .build()?;
            Ok((client, can_log_in))
        });
        (cloudflare, hover)
    } else {
        let server = match FakeServer::start().await {
            Ok(server) => server,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        println!("No credentials in the environment: touring the embedded fake server");
        println!(
            "  Cloudflare {}   Hover {}\n",
            server.cloudflare_base_url(),
            server.hover_base_url()
        );
        let cloudflare = CloudflareClient::builder()
            .credentials(Credentials::ApiToken(server.cloudflare_token().clone()))
            .base_url(server.cloudflare_base_url())
            .on_response(answers.hook())
            .build()
            .map(|c| (server.account_id(), c, true));
        realtime_base_url = Some(server.realtime_base_url());
        let hover = HoverClient::builder()
            .credentials(server.hover_email(), server.hover_password().clone())
            .base_url(server.hover_base_url())
            .on_response(answers.hook())
            .build()
            .map(|c| (c, true));
        fake = Some(server);
        (Some(cloudflare), Some(hover))
    };

    let suffix = format!("{:x}", chrono::Utc::now().timestamp_millis());
    let mut failed = false;
    let mut report = |what: &str, outcome: Result<(), Error>| {
        if let Err(e) = outcome {
            eprintln!("\n{what} failed: {e}\n");
            failed = true;
        }
    };
    if let Some(setup) = cloudflare {
        match setup {
            Ok((account, client, true)) => {
                let realtime = realtime_base_url.as_deref();
                report(
                    "Calls tour",
                    calls_tour(&client, &account, realtime, &suffix, &answers).await,
                );
                report(
                    "TURN tour",
                    turn_tour(&client, &account, realtime, &suffix, &answers).await,
                );
                report(
                    "Magic tour",
                    magic_tour(&client, &account, &suffix, &answers).await,
                );
            }
            Ok((account, client, false)) => {
                println!(
                    "Cloudflare Calls apps and TURN keys: skipped, Calls accepts only API tokens \
                     (set CLOUDFLARE_API_TOKEN to tour them)\n"
                );
                report(
                    "Magic tour",
                    magic_tour(&client, &account, &suffix, &answers).await,
                );
            }
            Err(e) => report("Cloudflare set-up", Err(e)),
        }
    }
    if let Some(setup) = hover {
        match setup {
            Ok((client, can_log_in)) => report(
                "Hover tour",
                hover_tour(&client, can_log_in, &suffix, &answers).await,
            ),
            Err(e) => report("Hover set-up", Err(e)),
        }
    }
    drop(fake);
    if failed {
        ExitCode::FAILURE
    } else {
        println!("Tour complete.");
        ExitCode::SUCCESS
    }
}

fn opt<T: ToString>(value: &Option<T>) -> String {
    value.as_ref().map_or("-".into(), T::to_string)
}

fn time(value: Option<chrono::DateTime<chrono::Utc>>) -> String {
    opt(&value.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
}

async fn calls_tour(
    cf: &CloudflareClient,
    account: &AccountId,
    realtime_base_url: Option<&str>,
    suffix: &str,
    answers: &Answers,
) -> Result<(), Error> {
    println!("Cloudflare Calls apps (account {account})");
    let calls = cf.calls(account);
    let path = "/accounts/{account_id}/calls/apps";
    let item = "/accounts/{account_id}/calls/apps/{app_id}";
    let name = format!("apps-api-tour-{suffix}");

    let created = calls.create(Some(&name)).await?;
    let app = &created.app;
    answers.step(
        "create",
        "POST",
        path,
        &[
            ("uid", opt(&app.id)),
            ("name", opt(&app.name)),
            ("secret", created.secret.to_string()),
            ("created", time(app.created)),
        ],
    );
    let id = app
        .id
        .clone()
        .ok_or_else(|| Error::InvalidArgument("the created app has no uid".into()))?;

    let steps = async {
        let apps = calls.list().await?;
        answers.step("list", "GET", path, &[("apps", apps.len().to_string())]);
        let found = calls.get(&id).await?;
        answers.step(
            "get",
            "GET",
            item,
            &[("uid", opt(&found.id)), ("name", opt(&found.name))],
        );
        let renamed = calls.update(&id, Some(&format!("{name}-renamed"))).await?;
        answers.step(
            "update",
            "PUT",
            item,
            &[
                ("name", opt(&renamed.name)),
                ("modified", time(renamed.modified)),
            ],
        );
        println!("Cloudflare Realtime SFU, with the app's secret");
        sfu::sfu_tour(&id, &created.secret, realtime_base_url, answers).await?;
        Ok::<_, Error>(())
    }
    .await;
    // Delete even when a step failed.
    let deleted = calls.delete(&id).await;
    steps?;
    let deleted = deleted?;
    answers.step("delete", "DELETE", item, &[("uid", opt(&deleted.id))]);
    println!();
    Ok(())
}

async fn turn_tour(
    cf: &CloudflareClient,
    account: &AccountId,
    realtime_base_url: Option<&str>,
    suffix: &str,
    answers: &Answers,
) -> Result<(), Error> {
    println!("Cloudflare Calls TURN keys and credentials (account {account})");
    let keys = cf.turn_keys(account);
    let path = "/accounts/{account_id}/calls/turn_keys";
    let item = "/accounts/{account_id}/calls/turn_keys/{key_id}";
    let name = format!("apps-api-tour-{suffix}");

    let created = keys.create(Some(&name)).await?;
    answers.step(
        "create",
        "POST",
        path,
        &[
            ("uid", opt(&created.turn_key.id)),
            ("name", opt(&created.turn_key.name)),
            ("key", created.key.to_string()),
        ],
    );
    let id = created
        .turn_key
        .id
        .clone()
        .ok_or_else(|| Error::InvalidArgument("the created TURN key has no uid".into()))?;

    let steps = async {
        let all = keys.list().await?;
        answers.step("list", "GET", path, &[("keys", all.len().to_string())]);
        let renamed = keys.update(&id, Some(&format!("{name}-renamed"))).await?;
        answers.step("update", "PUT", item, &[("name", opt(&renamed.name))]);

        // Per end user, with the key's own token: credentials for a browser.
        let mut turn =
            TurnCredentials::builder(id.clone(), created.key.clone()).on_response(answers.hook());
        if let Some(url) = realtime_base_url {
            turn = turn.base_url(url);
        }
        let turn = turn.build()?;
        let ice = turn
            .ice_servers(std::time::Duration::from_secs(3600))
            .await?
            .without_port_53();
        let urls = ice.ice_servers.iter().map(|s| s.urls.len()).sum::<usize>();
        answers.step(
            "mint",
            "POST",
            "/turn/keys/{key_id}/credentials/generate-ice-servers",
            &[
                ("urls", urls.to_string()),
                ("username", "[redacted]".into()),
                ("credential", "[redacted]".into()),
                ("expires_at", time(Some(ice.expires_at))),
            ],
        );
        if let Some(username) = ice.username() {
            turn.revoke(&username).await?;
            answers.step(
                "revoke",
                "POST",
                "/turn/keys/{key_id}/credentials/{username}/revoke",
                &[],
            );
        }
        Ok::<_, Error>(())
    }
    .await;
    // Delete even when a step failed.
    let deleted = keys.delete(&id).await;
    steps?;
    let deleted = deleted?;
    answers.step("delete", "DELETE", item, &[("uid", opt(&deleted.id))]);
    println!();
    Ok(())
}

async fn magic_tour(
    cf: &CloudflareClient,
    account: &AccountId,
    suffix: &str,
    answers: &Answers,
) -> Result<(), Error> {
    println!("Cloudflare Magic account apps (account {account})");
    let magic = cf.magic(account);
    let path = "/accounts/{account_id}/magic/apps";
    let item = "/accounts/{account_id}/magic/apps/{account_app_id}";
    let list_field = |l: &[String]| format!("[{}]", l.join(","));

    let new = NewMagicApp::new(format!("apps-api-tour-{suffix}"), "Development")
        .hostnames(["tour.example.com"])
        .ip_subnets(["192.0.2.0/24"]);
    let app = magic.create(&new).await?;
    answers.step(
        "create",
        "POST",
        path,
        &[
            ("id", app.id.to_string()),
            ("name", opt(&app.name)),
            ("type", opt(&app.app_type)),
            ("hostnames", list_field(&app.hostnames)),
            ("ip_subnets", list_field(&app.ip_subnets)),
        ],
    );

    let steps = async {
        let items = magic.list().await?;
        let own = items
            .iter()
            .filter_map(MagicListItem::as_account_app)
            .count();
        answers.step(
            "list",
            "GET",
            path,
            &[
                ("account apps", own.to_string()),
                ("managed apps", (items.len() - own).to_string()),
            ],
        );
        let replaced = magic
            .update(
                &app.id,
                &MagicAppChanges::new()
                    .name(format!("apps-api-tour-{suffix}"))
                    .app_type("Development")
                    .hostnames(["tour.example.com", "tour2.example.com"]),
            )
            .await?;
        answers.step(
            "update",
            "PUT",
            item,
            &[
                ("hostnames", list_field(&replaced.hostnames)),
                ("ip_subnets", list_field(&replaced.ip_subnets)),
            ],
        );
        let patched = magic
            .patch(
                &app.id,
                &MagicAppChanges::new().source_subnets(["198.51.100.0/24"]),
            )
            .await?;
        answers.step(
            "patch",
            "PATCH",
            item,
            &[
                ("hostnames", list_field(&patched.hostnames)),
                ("source_subnets", list_field(&patched.source_subnets)),
            ],
        );
        site_config_tour(&magic, &app.id, answers).await
    }
    .await;
    let deleted = magic.delete(&app.id).await;
    steps?;
    let deleted = deleted?;
    answers.step("delete", "DELETE", item, &[("id", deleted.id.to_string())]);
    println!();
    Ok(())
}

/// What a Magic app is for: a site's app config that prioritises its traffic, found again by
/// asking who uses the app, then deleted. Skipped on an account without sites.
async fn site_config_tour(
    magic: &Magic<'_>,
    app: &MagicAppId,
    answers: &Answers,
) -> Result<(), Error> {
    let sites = magic.sites().await?;
    answers.step(
        "sites",
        "GET",
        "/accounts/{account_id}/magic/sites",
        &[("sites", sites.len().to_string())],
    );
    let Some(site) = sites.first() else {
        println!("  (no Magic site on this account: the app config steps are skipped)");
        return Ok(());
    };
    let configs = "/accounts/{account_id}/magic/sites/{site_id}/app_configs";
    let config = magic
        .create_app_config(&site.id, &NewAppConfig::new(app.clone()).priority(1))
        .await?;
    answers.step(
        "create",
        "POST",
        configs,
        &[
            ("site", opt(&site.name)),
            ("app", config.app.to_string()),
            ("priority", opt(&config.priority)),
        ],
    );
    let steps = async {
        let uses = magic.configs_using(&SiteApp::Account(app.clone())).await?;
        answers.step(
            "usage",
            "GET",
            configs,
            &[("configs using the app", uses.len().to_string())],
        );
        Ok::<_, Error>(())
    }
    .await;
    let deleted = magic.delete_app_config(&site.id, &config.id).await;
    steps?;
    answers.step(
        "delete",
        "DELETE",
        "/accounts/{account_id}/magic/sites/{site_id}/app_configs/{app_config_id}",
        &[("id", deleted?.id.to_string())],
    );
    Ok(())
}

fn hover_fields(app: &HoverApp) -> Vec<(&'static str, String)> {
    vec![
        ("id", app.id.to_string()),
        ("name", app.name.clone()),
        ("package", app.package_name.clone()),
        ("token", opt(&app.token)),
        ("webhook", opt(&app.webhook_url)),
        ("webhook_secret", opt(&app.webhook_secret)),
        ("archived_at", time(app.archived_at)),
    ]
}

async fn hover_tour(
    hover: &HoverClient,
    can_log_in: bool,
    suffix: &str,
    answers: &Answers,
) -> Result<(), Error> {
    println!("Hover apps");
    let apps = hover.apps();
    let item = "/api/apps/{id}";

    // A client built from a token has nothing to log in with.
    if can_log_in {
        hover.authenticate().await?;
        answers.step(
            "login",
            "POST",
            "/api/authenticate",
            &[("auth_token", "[redacted]".into())],
        );
    }

    let new = NewHoverApp::new(
        format!("apps-api tour {suffix}"),
        format!("com.example.tour{suffix}"),
    )
    .webhook_url("https://example.com/hover-webhook");
    let app = apps.create(&new).await?;
    answers.step("create", "POST", "/api/apps", &hover_fields(&app));

    let steps = async {
        let found = apps.get(&app.id).await?;
        answers.step(
            "get",
            "GET",
            item,
            &[("id", found.id.to_string()), ("name", found.name)],
        );
        let updated = apps
            .update(
                &app.id,
                &HoverAppChanges::new()
                    .package_name(format!("com.example.tour{suffix}.v2"))
                    .clear_webhook_url(),
            )
            .await?;
        answers.step(
            "update",
            "PATCH",
            item,
            &[
                ("package", updated.package_name.clone()),
                ("webhook", opt(&updated.webhook_url)),
            ],
        );
        let archived = apps.archive(&app.id).await?;
        answers.step(
            "archive",
            "DELETE",
            item,
            &[
                ("id", archived.id.to_string()),
                ("archived", archived.archived.to_string()),
            ],
        );
        let restored = apps.restore(&app.id).await?;
        answers.step(
            "restore",
            "PUT",
            "/api/apps/{id}/restore",
            &[("archived_at", time(restored.archived_at))],
        );
        Ok::<_, Error>(())
    }
    .await;
    // Leave nothing active behind, even when a step failed.
    let archived = apps.archive(&app.id).await;
    steps?;
    archived?;
    answers.step(
        "archive",
        "DELETE",
        item,
        &[("id", app.id.to_string()), ("cleanup", "done".into())],
    );
    println!();
    Ok(())
}
