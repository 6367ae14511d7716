//! Not part of the API (hidden, unstable): lets `benches/` time the facade's decoding of each
//! operation's answer (generated type, envelope, conversion) without a network.

use crate::core::envelope::Envelope;
use crate::generated::{calls, hover, magic};
use crate::Error;

fn envelope<B: Envelope + serde::de::DeserializeOwned>(body: &[u8]) -> Result<B::Result, Error> {
    let parsed: B =
        serde_json::from_slice(body).map_err(|e| Error::InvalidArgument(e.to_string()))?;
    // As the facade does with no message handler and no subscriber.
    let parts = parsed.into_parts(false);
    if !parts.success {
        return Err(Error::InvalidArgument("success: false".into()));
    }
    parts
        .result
        .ok_or_else(|| Error::InvalidArgument("no result".into()))
}

fn json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| Error::InvalidArgument(e.to_string()))
}

/// Decodes `body` as the answer of `operation` (an operationId) the way the facade does, and
/// returns how many apps it held.
pub fn decode(operation: &str, body: &[u8]) -> Result<usize, Error> {
    use crate::cloudflare::calls::CallsApp;
    use crate::cloudflare::magic::{MagicApp, MagicListItem};
    use crate::hover::HoverApp;
    Ok(match operation {
        "calls-apps-list" => envelope::<calls::types::CallsAppListEnvelope>(body)?
            .into_iter()
            .map(CallsApp::from)
            .count(),
        "calls-apps-create-a-new-app" => {
            let app = envelope::<calls::types::CallsAppWithSecretEnvelope>(body)?;
            usize::from(app.secret.is_some())
        }
        "calls-apps-retrieve-app-details"
        | "calls-apps-update-app-details"
        | "calls-apps-delete-app" => {
            let _ = CallsApp::from(envelope::<calls::types::CallsAppEnvelope>(body)?);
            1
        }
        "magic-account-apps-list-apps" => envelope::<magic::types::MagicAppListEnvelope>(body)?
            .into_iter()
            .map(MagicListItem::from)
            .count(),
        "magic-account-apps-add-app"
        | "magic-account-apps-update-app"
        | "magic-account-apps-patch-app"
        | "magic-account-apps-delete-app" => {
            let _ = MagicApp::from(envelope::<magic::types::MagicAppEnvelope>(body)?);
            1
        }
        "authenticate" => {
            let _ = json::<hover::types::HoverAuthenticated>(body)?;
            1
        }
        "archive-app" => {
            let _ = json::<hover::types::HoverArchived>(body)?;
            1
        }
        "create-app" | "get-app" | "update-app" | "restore-app" => {
            let _ = HoverApp::from(json::<hover::types::HoverAppDocument>(body)?);
            1
        }
        other => return Err(Error::InvalidArgument(format!("unknown operation {other}"))),
    })
}
