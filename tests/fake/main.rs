//! The fake server as a product: through the facade, as another language's client would see
//! it over raw HTTP (the Realtime SFU too), its HTTP control API, its answers against the
//! specs, and the tour run against it with every credential form.
#![cfg(feature = "fake")]

#[path = "../common/fresh.rs"]
mod fresh;
#[path = "../common/schema.rs"]
mod schema;
mod support;

mod control;
mod fidelity;
mod lifecycle;
mod sfu;
mod sites;
mod spec_check;
mod standalone;
mod tour;
