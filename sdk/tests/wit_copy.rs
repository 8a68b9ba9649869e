//! The SDK ships its own copy of the WIT contract (so the crate is
//! publishable alone); it must equal the workspace's `wit/`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;

fn files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

#[test]
fn sdk_wit_copy_equals_workspace_wit() {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ours = files(&sdk.join("wit"));
    let theirs = files(&sdk.join("../wit"));
    assert!(
        ours.contains_key("adapter.wit"),
        "sdk/wit/adapter.wit missing"
    );
    let differ: Vec<_> = theirs
        .keys()
        .chain(ours.keys())
        .filter(|k| ours.get(*k) != theirs.get(*k))
        .collect();
    assert!(
        differ.is_empty(),
        "sdk/wit differs from wit/ in {differ:?}: run `cp -r wit/* sdk/wit/`"
    );
}
