//! Generates the typed clients from `spec/*.yaml` with progenitor at compile time.
//!
//! Parse, check, generate, write: nothing else. A broken spec fails the build with one
//! `cargo::error` naming the file and the problem.

#[path = "src/codegen/mod.rs"]
mod codegen;

use std::path::PathBuf;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=src/codegen");
    println!("cargo::rerun-if-changed=spec");
    // The generated code is formatted with it when there is one.
    println!("cargo::rerun-if-env-changed=RUSTFMT");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));

    let mut failed = false;
    for api in codegen::APIS {
        println!("cargo::rerun-if-changed={}", api.spec);
        let written = codegen::generate_file(api).and_then(|code| {
            std::fs::write(out_dir.join(api.out_file), code).map_err(|e| codegen::SpecError {
                file: api.spec.into(),
                location: None,
                problem: format!("cannot write the generated code: {e}"),
            })
        });
        if let Err(e) = written {
            println!("cargo::error={e}");
            failed = true;
        }
    }
    let clients = codegen::clients(codegen::APIS).and_then(|code| {
        std::fs::write(out_dir.join("clients.rs"), code).map_err(|e| codegen::SpecError {
            file: "clients.rs".into(),
            location: None,
            problem: format!("cannot write the clients' wiring: {e}"),
        })
    });
    if let Err(e) = clients {
        println!("cargo::error={e}");
        failed = true;
    }
    // The operation table of the APIs this build has (their features are on).
    let built: Vec<&codegen::Api> = codegen::APIS
        .iter()
        .filter(|api| {
            let variable = format!(
                "CARGO_FEATURE_{}",
                api.feature.to_uppercase().replace('-', "_")
            );
            std::env::var_os(variable).is_some()
        })
        .collect();
    let table = codegen::operations(&built).and_then(|operations| {
        let code = codegen::operation_table(&operations);
        std::fs::write(out_dir.join("operations.rs"), code).map_err(|e| codegen::SpecError {
            file: "operations.rs".into(),
            location: None,
            problem: format!("cannot write the operation table: {e}"),
        })
    });
    if let Err(e) = table {
        println!("cargo::error={e}");
        failed = true;
    }
    if failed {
        // cargo reports the `cargo::error` lines above; exiting non-zero would also dump the
        // script's whole output, which says nothing more.
        std::process::exit(0);
    }
}
