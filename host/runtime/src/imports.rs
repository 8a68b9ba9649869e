//! The import allow-list: the interfaces an adapter component may import.
//! A component importing anything else is refused before it is
//! instantiated, whatever the policy of a call would allow.

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::error::LoadError;

/// Interfaces an adapter may import (without version). Everything else is
/// refused before instantiation.
const ALLOWED_IMPORTS: &[&str] = &[
    "meshroom:adapter/host",
    "meshroom:adapter/types",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:clocks/monotonic-clock",
    "wasi:clocks/wall-clock",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:http/types",
    "wasi:http/outgoing-handler",
    "wasi:sockets/network",
    "wasi:sockets/instance-network",
    "wasi:sockets/ip-name-lookup",
    "wasi:sockets/tcp",
    "wasi:sockets/tcp-create-socket",
    "wasi:sockets/udp",
    "wasi:sockets/udp-create-socket",
    // Imported by the Rust standard library and by CPython (Python adapters
    // built with componentize-py); inert here: no environment, no
    // arguments, empty stdin, stdout and stderr to the host log (bounded,
    // redacted; the stderr tail explains a crash), and no preopened folder,
    // so no file can be opened (CPython's `open` fails with ENOENT).
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:filesystem/types",
    "wasi:filesystem/preopens",
];

/// Refuses `component` if it imports an interface not in [`ALLOWED_IMPORTS`].
pub(crate) fn check_imports(
    engine: &Engine,
    component: &Component,
    name: &str,
) -> Result<(), LoadError> {
    let names: Vec<String> = component
        .component_type()
        .imports(engine)
        .map(|(import, _)| import.to_string())
        .collect();
    let refused = refused_imports(names.iter().map(String::as_str));
    if refused.is_empty() {
        Ok(())
    } else {
        Err(LoadError::ForbiddenImports {
            name: name.to_string(),
            imports: refused.join(", "),
        })
    }
}

/// The imports not in [`ALLOWED_IMPORTS`] (compared without version).
fn refused_imports<'a>(imports: impl Iterator<Item = &'a str>) -> Vec<String> {
    imports
        .filter(|import| {
            let bare = import.split('@').next().unwrap_or(import);
            !ALLOWED_IMPORTS.contains(&bare)
        })
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sandbox_interfaces_may_be_imported() {
        let refused = refused_imports(
            [
                "wasi:http/outgoing-handler@0.2.12",
                "wasi:io/streams@0.2.0",
                "meshroom:adapter/host@0.1.0",
                "wasi:cli/environment@0.2.12",
                "wasi:http/incoming-handler@0.2.12",
                "wasi:keyvalue/store@0.2.0",
                "evil:host/escape",
            ]
            .into_iter(),
        );
        assert_eq!(
            refused,
            [
                "wasi:http/incoming-handler@0.2.12",
                "wasi:keyvalue/store@0.2.0",
                "evil:host/escape"
            ]
        );
    }
}
