//! `apps-api`: the command-line tool over the library's facade, and the standalone fake
//! (`apps-api fake`). Feature `cli`.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
