//! The cqlhunt binary: a thin wrapper over `cqlhunt::cli`.

// Most of a run's time goes to allocating small strings (field names and values); mimalloc
// is much faster at that than the system allocator (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cqlhunt::cli::main()
}
