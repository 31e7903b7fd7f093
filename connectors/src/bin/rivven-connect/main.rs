//! The `rivven-connect` binary: see [`rivven_connectors::cli`].

fn main() -> std::process::ExitCode {
    rivven_connectors::cli::main()
}
