//! Contract tests: what the facade sends and how it reads the answers, against httpmock (and
//! against the specs, through the fake); one binary, one module per provider and concern.

mod drivers;
#[cfg(feature = "fake")]
#[path = "../common/fresh.rs"]
mod fresh;
#[cfg(feature = "fake")]
#[path = "../common/schema.rs"]
mod schema;
mod support;

mod bodies;
mod budget;
mod calls;
mod failures;
mod hover;
mod magic;
mod magic_sites;
mod properties;
mod redaction;
mod resilience;
mod security;
mod sfu;
mod sfu_channels;
mod sfu_hostile;
mod sfu_pace;
mod spec_requests;
mod turn;
mod waits;
