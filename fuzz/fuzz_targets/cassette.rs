//! A cassette file (`Cassette::parse`): one that parses is written back
//! (`to_yaml`) and must parse again.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use meshroom_cassette::Cassette;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("tests/cassettes/fuzz.yaml");
    if let Ok(cassette) = Cassette::parse(text, path) {
        let written = cassette.to_yaml();
        // The nesting guard counts brackets inside scalars too (see the
        // definition target): a refusal is what a written file deep in
        // unclosed brackets gives, by design.
        if meshroom_fsutil::yaml_too_deep(written.as_bytes()).is_some() {
            return;
        }
        if let Err(e) = Cassette::parse(&written, path) {
            panic!("a written cassette does not parse: {e}\n{written}");
        }
    }
});
