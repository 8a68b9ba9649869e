//! Tag ordering for "is a newer version published?" (`meshroom list products --outdated`).
//!
//! Tags that look like versions (`1.2.0`, `v1.10`, `2.0.0-rc.1`) are compared by their
//! numeric parts; other tags (`latest`, `stable`) are never "newer".

use std::cmp::Ordering;

/// A parsed version-like tag: numeric release parts and an optional pre-release suffix.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Version {
    release: Vec<u64>,
    pre: Option<String>,
}

fn parse(tag: &str) -> Option<Version> {
    let tag = tag.strip_prefix('v').unwrap_or(tag);
    let (release, pre) = match tag.split_once('-') {
        Some((r, p)) => (r, Some(p.to_string())),
        None => (tag, None),
    };
    let release = release
        .split('.')
        .map(|p| p.parse::<u64>().ok())
        .collect::<Option<Vec<_>>>()?;
    (!release.is_empty()).then_some(Version { release, pre })
}

fn compare(a: &Version, b: &Version) -> Ordering {
    let len = a.release.len().max(b.release.len());
    for i in 0..len {
        let (x, y) = (
            a.release.get(i).copied().unwrap_or(0),
            b.release.get(i).copied().unwrap_or(0),
        );
        match x.cmp(&y) {
            Ordering::Equal => {}
            other => return other,
        }
    }
    match (&a.pre, &b.pre) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => x.cmp(y),
    }
}

/// The tags among `tags` that are versions newer than `current`, newest first
/// (empty when `current` is not a version).
pub fn newer_tags(current: &str, tags: &[String]) -> Vec<String> {
    let Some(current) = parse(current) else {
        return Vec::new();
    };
    let mut newer: Vec<(Version, &String)> = tags
        .iter()
        .filter_map(|t| parse(t).map(|v| (v, t)))
        .filter(|(v, _)| compare(v, &current) == Ordering::Greater)
        .collect();
    newer.sort_by(|(a, _), (b, _)| compare(b, a));
    newer.into_iter().map(|(_, t)| t.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn numeric_not_lexicographic() {
        let all = tags(&[
            "1.2.0",
            "1.10.0",
            "1.9.1",
            "latest",
            "v2.0.0-rc.1",
            "2.0.0",
            "1.2",
        ]);
        assert_eq!(
            newer_tags("1.2.0", &all),
            tags(&["2.0.0", "v2.0.0-rc.1", "1.10.0", "1.9.1"])
        );
        assert_eq!(newer_tags("2.0.0", &all), Vec::<String>::new());
        assert_eq!(newer_tags("latest", &all), Vec::<String>::new());
    }
}
