//! The Hover commands: `hover create|get|update|archive|restore`.

use apps_api::hover::{HoverAppChanges, NewHoverApp};
use apps_api::{HoverAppId, Secret};
use serde_json::json;

use super::args::{Global, Hover};
use super::{hover_client, output, print_created, with_secrets, Failure};

pub async fn hover(command: Hover, global: &Global) -> Result<(), Failure> {
    let hover = hover_client(global)?;
    let apps = hover.apps();
    let single = |app: &apps_api::hover::HoverApp| {
        output::item(global.json, app, output::HOVER_HEADERS, output::hover_row)
    };
    match command {
        Hover::Create {
            name,
            package_name,
            webhook_url,
            secret,
        } => {
            return with_secrets(
                secret.secret_file.as_deref(),
                global,
                |mut sink| async move {
                    let outcome = async {
                        let mut new = NewHoverApp::new(name, package_name);
                        if let Some(url) = webhook_url {
                            new = new.webhook_url(url);
                        }
                        let app = apps.create(&new).await?;
                        sink.write(&json!({
                            "token": app.token.as_ref().map(Secret::expose),
                            "webhook_secret": app.webhook_secret.as_ref().map(Secret::expose),
                        }));
                        let shown = |secret: &Option<Secret>| {
                            if sink.to_file() {
                                None
                            } else {
                                secret.clone()
                            }
                        };
                        let (token, webhook_secret) =
                            (shown(&app.token), shown(&app.webhook_secret));
                        print_created(
                            global,
                            output::value(&app),
                            "app",
                            &[
                                ("token", token.as_ref()),
                                ("webhook_secret", webhook_secret.as_ref()),
                            ],
                            || output::table(output::HOVER_HEADERS, &[output::hover_row(&app)]),
                        );
                        Ok(())
                    }
                    .await;
                    (sink, outcome)
                },
            )
            .await;
        }
        Hover::Get { id } => single(&apps.get(&HoverAppId::parse(id)?).await?),
        Hover::Update {
            id,
            name,
            package_name,
            webhook_url,
            clear_webhook_url,
        } => {
            let mut changes = HoverAppChanges::new();
            if let Some(name) = name {
                changes = changes.name(name);
            }
            if let Some(package) = package_name {
                changes = changes.package_name(package);
            }
            if let Some(url) = webhook_url {
                changes = changes.webhook_url(url);
            }
            if clear_webhook_url {
                changes = changes.clear_webhook_url();
            }
            single(&apps.update(&HoverAppId::parse(id)?, &changes).await?)
        }
        Hover::Archive { id } => {
            let archived = apps.archive(&HoverAppId::parse(id)?).await?;
            output::item(global.json, &archived, &["ID", "ARCHIVED"], |a| {
                vec![a.id.to_string(), a.archived.to_string()]
            });
        }
        Hover::Restore { id } => single(&apps.restore(&HoverAppId::parse(id)?).await?),
    }
    Ok(())
}
