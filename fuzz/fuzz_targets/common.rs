//! What several targets share: splitting one input into the files of a
//! case, and a scratch folder in memory when the machine has one.

// Each target uses part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The line that separates the files of one input (a YAML comment, so each
/// seed file is also a valid YAML file).
pub const SEPARATOR: &str = "\n#---\n";

/// The parts of `text` separated by [`SEPARATOR`], always at least `n`
/// (missing ones empty).
pub fn parts(text: &str, n: usize) -> Vec<&str> {
    let mut parts: Vec<&str> = text.splitn(n, SEPARATOR).collect();
    parts.resize(n, "");
    parts
}

/// A scratch folder for one fuzzing process, in `$MESHROOM_FUZZ_TMP`
/// (`scripts/fuzz.sh` removes it: a fuzzer stopped by a crash removes
/// nothing), else in `/dev/shm` when there is one (no disk writes per
/// execution), else in the temporary folder.
pub fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let base = match std::env::var_os("MESHROOM_FUZZ_TMP") {
        Some(dir) => PathBuf::from(dir),
        None if shm.is_dir() => shm.to_path_buf(),
        None => std::env::temp_dir(),
    };
    tempfile::Builder::new()
        .prefix("meshroom-fuzz-")
        .tempdir_in(base)
        .unwrap_or_else(|e| panic!("cannot create a scratch folder: {e}"))
}

/// A file name from fuzzed text, or `None` when it cannot name a file inside
/// its folder (meshroom reads folders: it never sees such names).
pub fn file_name(text: &str) -> Option<String> {
    // At most 200 bytes, not chars: a file name is at most 255 bytes
    // (found by fuzzing: 200 four-byte chars made ENAMETOOLONG).
    let mut name = String::new();
    for c in text
        .chars()
        .map(|c| if c == '/' || c == '\0' { '_' } else { c })
    {
        if name.len() + c.len_utf8() > 200 {
            break;
        }
        name.push(c);
    }
    (!name.is_empty() && name != "." && name != "..").then_some(name)
}

/// Writes `bytes` to `path`, creating its folder.
pub fn write(path: &Path, bytes: &[u8]) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .unwrap_or_else(|e| panic!("cannot create `{}`: {e}", dir.display()));
    }
    std::fs::write(path, bytes)
        .unwrap_or_else(|e| panic!("cannot write `{}`: {e}", path.display()));
}

/// Removes `path` and what it holds, if it exists.
pub fn clear(path: &Path) -> PathBuf {
    let _ = std::fs::remove_dir_all(path);
    path.to_path_buf()
}
