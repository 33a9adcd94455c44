//! The cqlhunt binary: a thin wrapper over `cqlhunt::cli`.

fn main() -> std::process::ExitCode {
    cqlhunt::cli::main()
}
