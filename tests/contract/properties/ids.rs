//! IDs: arbitrary strings through every operation whose path takes one, as the caller's
//! untrusted input. An invalid ID is refused before anything is sent; a valid one reaches its
//! own path segment whole, in the spec's path template.

use proptest::prelude::*;

use apps_api::operations::IdKind;
use apps_api::{CallsAppId, HoverAppId, MagicAppId};

use super::{cases, drivers, CLIENTS};
use crate::drivers::Ids;

/// Strings an ID may be given as: any Unicode at all, and strings close to the real alphabet
/// and length with the characters that change a URL's meaning mixed in.
fn hostile_id() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => any::<String>(),
        2 => "[A-Za-z0-9_./\\\\%?#;:@ \t\n\u{0}ü-]{0,40}",
        1 => "[0-9a-f]{30,34}",
        1 => "[0-9]{0,22}",
        1 => proptest::sample::select(NAMED_HOSTILE_IDS).prop_map(str::to_owned),
    ]
}

/// Traversals, escapes, controls and lengths an ID must never smuggle into a path.
const NAMED_HOSTILE_IDS: &[&str] = &[
    r"..\..",
    r"a\..\b",
    r"\..\x",
    "%2e%2e%5c",
    "..%2F..",
    "a\tb",
    "a\nb",
    "a\u{0}b",
    "ü",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    r"..\..\..\..\zones\023e105f4ecef8ad9ca31a8372d0c353",
    ".",
    "..",
    "",
    "a/b",
    "a?b=1",
    "a#b",
    "%2e",
];

/// A kind of ID: a valid one, and its type's check.
type Kind = (IdKind, &'static str, fn(&str) -> bool);

/// Each kind of ID.
const KINDS: &[Kind] = &[
    (IdKind::Account, crate::support::ACCOUNT, |id| {
        apps_api::AccountId::parse(id).is_ok()
    }),
    (IdKind::CallsApp, "2a95132c15732412d22c1476fa83f27a", |id| {
        CallsAppId::parse(id).is_ok()
    }),
    (IdKind::MagicApp, "m1", |id| MagicAppId::parse(id).is_ok()),
    (IdKind::Site, "s1", |id| apps_api::SiteId::parse(id).is_ok()),
    (IdKind::AppConfig, "c1", |id| {
        apps_api::AppConfigId::parse(id).is_ok()
    }),
    (IdKind::HoverApp, "43120", |id| {
        HoverAppId::parse(id).is_ok()
    }),
    (IdKind::TurnKey, "2a95132c15732412d22c1476fa83f27a", |id| {
        apps_api::TurnKeyId::parse(id).is_ok()
    }),
    (IdKind::TurnUsername, "u5ername", |id| {
        apps_api::TurnUsername::parse(id).is_ok()
    }),
    (IdKind::Session, "2a45361d5fd7cc14eface0587c276c94", |id| {
        apps_api::SessionId::parse(id).is_ok()
    }),
];

/// The entry of `kind`.
fn kind(kind: IdKind) -> &'static Kind {
    KINDS
        .iter()
        .find(|(known, _, _)| *known == kind)
        .unwrap_or_else(|| panic!("no entry for {kind:?}: add it to KINDS"))
}

/// Each path parameter of the operations (by name: one name carries one kind of ID in every
/// spec), with its kind's entry.
fn parameters() -> Vec<(&'static str, &'static Kind)> {
    let mut out: Vec<(&'static str, &'static Kind)> = Vec::new();
    for driver in drivers() {
        for (name, id_kind) in driver.op.ids {
            match out.iter().find(|(known, _)| known == name) {
                Some((_, entry)) => assert_eq!(entry.0, *id_kind, "{{{name}}} of two kinds"),
                None => out.push((name, kind(*id_kind))),
            }
        }
    }
    out
}

/// A valid ID for every path parameter.
pub fn valid_ids() -> Ids {
    Ids(parameters()
        .into_iter()
        .map(|(parameter, (_, id, _))| (parameter, id.to_string()))
        .collect())
}

/// Every path parameter of every operation is a kind of ID these tests know.
#[test]
fn every_path_parameter_is_a_kind_of_id() {
    for driver in drivers() {
        for (_, id_kind) in driver.op.ids {
            kind(*id_kind);
        }
    }
    assert!(parameters().len() >= KINDS.len());
}

/// Runs every operation whose path takes `parameter` with `id` there, and asserts on each
/// request the responder received: none when the ID is invalid (and the call says so),
/// otherwise exactly the operation's path (its spec's template, every other ID valid) with the
/// ID as one whole segment.
fn id_reaches_only_its_segment(parameter: &str, id: &str) {
    let (parameter, (_, _, is_valid)) = parameters()
        .into_iter()
        .find(|(p, _)| *p == parameter)
        .unwrap();
    let valid = is_valid(id);
    let mut ids = valid_ids();
    ids.0.insert(parameter, id.to_string());
    let mut ran = 0;
    CLIENTS.with(|c| {
        c.answer(
            404,
            r#"{"success": false, "errors": [], "messages": [], "result": null}"#,
        );
        for driver in drivers() {
            let template = driver.op.path;
            if !driver.op.parameters().any(|p| p == parameter) {
                continue;
            }
            ran += 1;
            c.take_seen();
            let result = c.run(&driver, &ids);
            let seen = c.take_seen();
            let op = driver.op.id;
            if !valid {
                // Named, with the rule, quoting at most a few characters of the value (8,
                // escaped: an escape can double a character, so only IDs longer than 16 can be
                // told apart from their quote), in a message of bounded length.
                assert!(
                    matches!(&result, Err(apps_api::Error::InvalidArgument(m))
                        if (id.chars().count() <= 16 || !m.contains(id)) && m.len() < 300),
                    "{op}: {parameter} {id:?}: {result:?}"
                );
                assert!(seen.is_empty(), "{op}: {parameter} {id:?} sent {seen:?}");
                continue;
            }
            // Every answer here is a 404.
            assert!(
                matches!(result, Err(apps_api::Error::NotFound(_))),
                "{op}: {parameter} {id:?}: {result:?}"
            );
            let mut expected = format!("{}{template}", driver.op.base_path);
            for name in driver.op.parameters() {
                expected = expected.replace(&format!("{{{name}}}"), &ids[name]);
            }
            assert!(
                !seen.is_empty(),
                "{op}: {parameter} {id:?}: a valid ID sent nothing"
            );
            for (_, path) in seen {
                assert_eq!(path, expected, "{op}: {parameter} {id:?}");
            }
        }
    });
    assert!(ran > 0, "no operation takes {{{parameter}}}");
}

#[test]
fn named_hostile_ids_never_leave_their_segment() {
    for (parameter, (_, valid, _)) in parameters() {
        for id in NAMED_HOSTILE_IDS {
            id_reaches_only_its_segment(parameter, id);
        }
        // And the harness sees a valid one arrive whole.
        id_reaches_only_its_segment(parameter, valid);
    }
}

proptest! {
    // As many cases for each kind of ID as a property has.
    #![proptest_config(ProptestConfig {
        cases: cases() * KINDS.len() as u32,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Every kind of ID (account, Calls app, Magic app, Magic site, site app config, Hover app,
    /// TURN key, TURN username).
    #[test]
    fn ids_never_leave_their_segment(
        parameter in proptest::sample::select(parameters()).prop_map(|(parameter, _)| parameter),
        id in hostile_id(),
    ) {
        id_reaches_only_its_segment(parameter, &id);
    }
}
