//! `apps-api`: the command-line tool. With feature `cli` it has every command; with only
//! feature `fake` it runs the standalone fake server (`apps-api fake`).

#[cfg(feature = "cli")]
mod cli;

use std::process::ExitCode;

#[cfg(feature = "cli")]
fn main() -> ExitCode {
    cli::main()
}

#[cfg(not(feature = "cli"))]
fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("fake") => serve_fake(args.into_iter().skip(1)),
        Some("--version" | "-V") => {
            println!("apps-api {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!(
                "usage: apps-api fake [--help | FLAGS]\n\n\
                 This build has only the fake server. The other commands (calls, magic, hover, \
                 turn-keys, turn) come with the `cli` feature:\n  \
                 cargo install apps-api --features cli"
            );
            ExitCode::from(2)
        }
    }
}

/// Runs the standalone fake until Ctrl-C.
#[cfg(not(feature = "cli"))]
fn serve_fake(args: impl Iterator<Item = String>) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(apps_api::fake::run_standalone(args)),
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            ExitCode::FAILURE
        }
    }
}
