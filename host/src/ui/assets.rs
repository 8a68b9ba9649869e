//! The page and its files, embedded in the binary (`host/ui/`): the page
//! works offline. The vendored libraries are listed, with versions,
//! licences and digests, in `host/ui/VENDORED.md`.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// (name under `/assets/`, content type, bytes).
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../ui/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../../ui/app.css"),
    ),
    (
        "vendor/cytoscape.min.js",
        "text/javascript; charset=utf-8",
        include_str!("../../ui/vendor/cytoscape.min.js"),
    ),
    (
        "vendor/layout-base.js",
        "text/javascript; charset=utf-8",
        include_str!("../../ui/vendor/layout-base.js"),
    ),
    (
        "vendor/cose-base.js",
        "text/javascript; charset=utf-8",
        include_str!("../../ui/vendor/cose-base.js"),
    ),
    (
        "vendor/cytoscape-fcose.js",
        "text/javascript; charset=utf-8",
        include_str!("../../ui/vendor/cytoscape-fcose.js"),
    ),
];

const INDEX: &str = include_str!("../../ui/index.html");

/// Headers of every embedded file: no sniffing, no framing, nothing loaded
/// from elsewhere.
const SECURITY: [(header::HeaderName, &str); 3] = [
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
    ),
];

/// `GET /`.
pub async fn index() -> Response {
    (
        SECURITY,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        INDEX,
    )
        .into_response()
}

/// `GET /assets/FILE`.
pub async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, kind, body)) => (
            SECURITY,
            [
                (header::CONTENT_TYPE, *kind),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            *body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such file\n").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    /// VENDORED.md lists each vendored file with the digest it has here.
    #[test]
    fn every_vendored_file_has_the_digest_vendored_md_lists() {
        let listed = include_str!("../../ui/VENDORED.md");
        for (name, _, body) in super::ASSETS
            .iter()
            .filter(|(n, _, _)| n.starts_with("vendor/"))
        {
            let digest = hex_of(&Sha256::digest(body.as_bytes()));
            let row = listed
                .lines()
                .find(|l| l.contains(&format!("`{name}`")))
                .unwrap_or_else(|| panic!("{name} is not listed in VENDORED.md"));
            assert!(
                row.contains(&digest),
                "{name}: sha256 {digest} is not the one listed: {row}"
            );
        }
    }

    fn hex_of(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}
