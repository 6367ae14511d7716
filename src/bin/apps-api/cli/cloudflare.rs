//! The Cloudflare commands: `calls`, `magic` (its sites' in `magic_sites`) and `turn-keys`.

use apps_api::cloudflare::magic::{MagicAppChanges, NewMagicApp};
use apps_api::{CallsAppId, Error, MagicAppId, TurnKeyId};
use serde_json::json;

use super::args::{Calls, Global, Magic, MagicFields, TurnKeys};
use super::magic_sites;
use super::{cloudflare, output, print_created, with_secrets, Failure};

pub async fn calls(command: Calls, global: &Global) -> Result<(), Failure> {
    let (cf, account) = cloudflare(global)?;
    let calls = cf.calls(account);
    let single = |app: &apps_api::cloudflare::calls::CallsApp| {
        output::item(global.json, app, output::CALLS_HEADERS, output::calls_row)
    };
    match command {
        Calls::List => output::items(
            global.json,
            &calls.list().await?,
            output::CALLS_HEADERS,
            output::calls_row,
        ),
        Calls::Get { app_id } => single(&calls.get(&CallsAppId::parse(app_id)?).await?),
        Calls::Update { app_id, name } => single(
            &calls
                .update(&CallsAppId::parse(app_id)?, name.as_deref())
                .await?,
        ),
        Calls::Delete { app_id } => single(&calls.delete(&CallsAppId::parse(app_id)?).await?),
        Calls::Create { name, secret } => {
            return with_secrets(
                secret.secret_file.as_deref(),
                global,
                |mut sink| async move {
                    let outcome = async {
                        let created = calls.create(name.as_deref()).await?;
                        sink.write(&json!({"secret": created.secret.expose()}));
                        let secret = (!sink.to_file()).then_some(&created.secret);
                        print_created(
                            global,
                            output::value(&created.app),
                            "app",
                            &[("secret", secret)],
                            || {
                                output::table(
                                    output::CALLS_HEADERS,
                                    &[output::calls_row(&created.app)],
                                )
                            },
                        );
                        Ok(())
                    }
                    .await;
                    (sink, outcome)
                },
            )
            .await;
        }
    }
    Ok(())
}

fn magic_body(fields: &MagicFields) -> MagicAppChanges {
    let mut changes = MagicAppChanges::new();
    if let Some(name) = &fields.name {
        changes = changes.name(name);
    }
    if let Some(app_type) = &fields.app_type {
        changes = changes.app_type(app_type);
    }
    if !fields.hostnames.is_empty() {
        changes = changes.hostnames(fields.hostnames.clone());
    }
    if !fields.ip_subnets.is_empty() {
        changes = changes.ip_subnets(fields.ip_subnets.clone());
    }
    if !fields.source_subnets.is_empty() {
        changes = changes.source_subnets(fields.source_subnets.clone());
    }
    changes
}

pub async fn magic(command: Magic, global: &Global) -> Result<(), Failure> {
    let (cf, account) = cloudflare(global)?;
    let magic = cf.magic(account);
    let single = |app: &apps_api::cloudflare::magic::MagicApp| {
        let item = output::magic_account_item(app);
        output::item(
            global.json,
            &item,
            output::MAGIC_HEADERS,
            output::magic_item_row,
        )
    };
    match command {
        Magic::List => output::items(
            global.json,
            &magic.list().await?,
            output::MAGIC_HEADERS,
            output::magic_item_row,
        ),
        Magic::Create(fields) => {
            let (Some(name), Some(app_type)) = (&fields.name, &fields.app_type) else {
                return Err(
                    Error::InvalidArgument("magic create needs --name and --type".into()).into(),
                );
            };
            let mut new = NewMagicApp::new(name, app_type);
            if !fields.hostnames.is_empty() {
                new = new.hostnames(fields.hostnames.clone());
            }
            if !fields.ip_subnets.is_empty() {
                new = new.ip_subnets(fields.ip_subnets.clone());
            }
            if !fields.source_subnets.is_empty() {
                new = new.source_subnets(fields.source_subnets.clone());
            }
            single(&magic.create(&new).await?);
        }
        Magic::Update { app_id, fields } => single(
            &magic
                .update(&MagicAppId::parse(app_id)?, &magic_body(&fields))
                .await?,
        ),
        Magic::Patch { app_id, fields } => single(
            &magic
                .patch(&MagicAppId::parse(app_id)?, &magic_body(&fields))
                .await?,
        ),
        Magic::Delete { app_id, force } => {
            let app = MagicAppId::parse(app_id)?;
            // A dry run shows the DELETE; the check would send requests.
            if !force && !global.dry_run {
                magic_sites::refuse_if_used(&magic, &app).await?;
            }
            single(&magic.delete(&app).await?);
        }
        Magic::Sites => magic_sites::sites(&magic, global).await?,
        Magic::SiteApps(command) => magic_sites::site_apps(&magic, command, global).await?,
        Magic::Usage { app_id, managed } => {
            magic_sites::usage(&magic, app_id, managed, global).await?;
        }
    }
    Ok(())
}

pub async fn turn_keys(command: TurnKeys, global: &Global) -> Result<(), Failure> {
    let (cf, account) = cloudflare(global)?;
    let keys = cf.turn_keys(account);
    let single = |key: &apps_api::cloudflare::turn_keys::TurnKey| {
        output::item(
            global.json,
            key,
            output::TURN_KEY_HEADERS,
            output::turn_key_row,
        )
    };
    match command {
        TurnKeys::List => output::items(
            global.json,
            &keys.list().await?,
            output::TURN_KEY_HEADERS,
            output::turn_key_row,
        ),
        TurnKeys::Get { key_id } => single(&keys.get(&TurnKeyId::parse(key_id)?).await?),
        TurnKeys::Update { key_id, name } => single(
            &keys
                .update(&TurnKeyId::parse(key_id)?, name.as_deref())
                .await?,
        ),
        TurnKeys::Delete { key_id } => single(&keys.delete(&TurnKeyId::parse(key_id)?).await?),
        TurnKeys::Create { name, secret } => {
            return with_secrets(
                secret.secret_file.as_deref(),
                global,
                |mut sink| async move {
                    let outcome = async {
                        let created = keys.create(name.as_deref()).await?;
                        sink.write(&json!({"key": created.key.expose()}));
                        let key = (!sink.to_file()).then_some(&created.key);
                        print_created(
                            global,
                            output::value(&created.turn_key),
                            "turn_key",
                            &[("key", key)],
                            || {
                                output::table(
                                    output::TURN_KEY_HEADERS,
                                    &[output::turn_key_row(&created.turn_key)],
                                )
                            },
                        );
                        Ok(())
                    }
                    .await;
                    (sink, outcome)
                },
            )
            .await;
        }
    }
    Ok(())
}
