//! Contract tests against httpmock: one binary, one module per provider and concern.

mod support;

mod calls;
mod failures;
mod hover;
mod magic;
mod redaction;
mod resilience;
mod security;
mod turn;
