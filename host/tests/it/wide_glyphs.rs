//! Tables of the real `meshroom` binary stay aligned when cells hold wide
//! glyphs (CJK, emoji): columns are counted in terminal columns, not chars.

use crate::support;
use std::path::Path;

use unicode_width::UnicodeWidthStr;

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// The terminal columns where the cells of `line` start (cells are
/// separated by two spaces or more).
fn cell_starts(line: &str) -> Vec<usize> {
    let mut starts = vec![0];
    let mut spaces = 0;
    for (i, c) in line.char_indices() {
        if c == ' ' {
            spaces += 1;
            continue;
        }
        if spaces >= 2 {
            starts.push(line[..i].width());
        }
        spaces = 0;
    }
    starts
}

#[test]
fn product_tables_align_cjk_and_emoji_descriptions() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "products/edr_cn/definition.yaml",
        "name: edr_cn\ndescription: 终端检测与响应 🛡️\ntags: [终端安全, 检测]\nconsumes:\n  events:\n    - {}\n",
    );
    write(
        root,
        "products/siem/definition.yaml",
        "name: siem\ndescription: Logs 📈 and alerts 🚨\ntags: [📈 logs, siem]\nproduces:\n  events:\n    - {}\n",
    );
    write(
        root,
        "instances/edr_cn/北京/config.yaml",
        "name: 北京\nproduct: edr_cn\n",
    );
    let out = support::meshroom(root, &["list", "products"], None);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("终端安全, 检测"), "{text}");
    assert!(text.contains("📈 logs, siem"), "{text}");
    // Every line's cells start at the header's columns.
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    let header = cell_starts(lines[0]);
    assert_eq!(header.len(), 5, "{text}");
    for line in &lines[1..] {
        assert_eq!(cell_starts(line), header, "misaligned `{line}` in:\n{text}");
    }

    // The descriptions themselves reach `--json` unchanged.
    let out = support::meshroom(root, &["--json", "list", "products"], None);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let descriptions: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["description"].as_str().unwrap())
        .collect();
    assert_eq!(descriptions, ["终端检测与响应 🛡️", "Logs 📈 and alerts 🚨"]);
}
