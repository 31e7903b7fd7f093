//! The `rivven-connect` binary: see [`rivven_connect_cli`].

/// Events are allocated by a source's thread and freed by the sink's: jemalloc
/// handles that producer/consumer pattern with far less overhead and memory than
/// the system allocator (see `benches/README.md`). A service embedding the
/// library chooses its own allocator.
#[cfg(all(feature = "jemalloc", not(target_env = "msvc")))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    rivven_connect_cli::main()
}
