//! Logs go to stderr through `tracing`; the level comes from `RUST_LOG`,
//! else `-d` (debug) / `-q` (errors only) / warnings by default.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

pub fn init(debug: bool, quiet: bool) {
    let default = if debug {
        "meshroom=debug,meshroom_registry=debug,info"
    } else if quiet {
        "error"
    } else {
        "warn"
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(debug)
        .without_time()
        .try_init();
}
