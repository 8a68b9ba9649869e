//! The `meshroom` binary: parse, run, print the error chain, set the exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    meshroom::cli::main()
}
