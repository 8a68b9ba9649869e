//! An OCI distribution registry reached with `oci-client`, with its errors translated
//! into the crate's (unauthorized, not found, digest mismatch, unreachable).

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::{OCI_IMAGE_MEDIA_TYPE, OciDescriptor};
use oci_client::{Client, Reference};

use crate::auth::{AuthConfig, ResolvedAuth};
use crate::digest::Digest;
use crate::error::{RegistryError, Result};

/// One registry, with the credentials resolved for it.
pub(crate) struct Remote {
    client: Client,
    auth: ResolvedAuth,
    registry: String,
}

/// Whether `registry` (`host[:port]`) is a loopback address, where plain HTTP is allowed.
pub fn is_loopback(registry: &str) -> bool {
    let host = if let Some(rest) = registry.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        registry.rsplit_once(':').map_or(registry, |(h, _)| h)
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Remote {
    /// A client for the registry of `reference`: HTTPS, except plain HTTP for loopback
    /// registries or when `insecure` is set.
    pub fn connect(reference: &Reference, auth: &AuthConfig, insecure: bool) -> Result<Self> {
        let registry = reference.resolve_registry().to_string();
        let protocol = if insecure {
            ClientProtocol::Http
        } else if is_loopback(&registry) {
            ClientProtocol::HttpsExcept(vec![registry.clone()])
        } else {
            ClientProtocol::Https
        };
        let config = ClientConfig {
            protocol,
            connect_timeout: Some(std::time::Duration::from_secs(10)),
            read_timeout: Some(std::time::Duration::from_secs(60)),
            ..Default::default()
        };
        let client = Client::try_from(config).map_err(|e| RegistryError::Unreachable {
            registry: registry.clone(),
            detail: format!("cannot build an HTTP client: {e}"),
        })?;
        let auth = auth.resolve(&registry)?;
        tracing::debug!(registry = %registry, credentials = %auth.source, "connecting");
        Ok(Remote {
            client,
            auth,
            registry,
        })
    }

    /// Whether the registry already has the blob (so it need not be uploaded).
    pub async fn has_blob(&self, reference: &Reference, digest: &Digest) -> Result<bool> {
        self.client
            .store_auth_if_needed(&self.registry, &self.auth.auth)
            .await;
        self.client
            .blob_exists(reference, digest.as_str())
            .await
            .map_err(|e| self.error(e, reference))
    }

    pub async fn push_blob(
        &self,
        reference: &Reference,
        digest: &Digest,
        bytes: Vec<u8>,
    ) -> Result<()> {
        self.client
            .store_auth_if_needed(&self.registry, &self.auth.auth)
            .await;
        self.client
            .push_blob(reference, bytes, digest.as_str())
            .await
            .map_err(|e| self.error(e, reference))?;
        Ok(())
    }

    pub async fn push_manifest(&self, reference: &Reference, manifest: Vec<u8>) -> Result<()> {
        self.client
            .store_auth_if_needed(&self.registry, &self.auth.auth)
            .await;
        let content_type = http::HeaderValue::from_static(OCI_IMAGE_MEDIA_TYPE);
        self.client
            .push_manifest_raw(reference, manifest, content_type)
            .await
            .map_err(|e| self.error(e, reference))?;
        Ok(())
    }

    /// Fetches a manifest (by tag or digest) and its digest, verified against its bytes.
    pub async fn pull_manifest(&self, reference: &Reference) -> Result<(Vec<u8>, Digest)> {
        let (bytes, digest) = self
            .client
            .pull_manifest_raw(reference, &self.auth.auth, &[OCI_IMAGE_MEDIA_TYPE])
            .await
            .map_err(|e| self.error(e, reference))?;
        let digest = Digest::parse(&digest)?;
        digest.verify(&bytes, &format!("manifest of `{}`", reference.whole()))?;
        Ok((bytes.to_vec(), digest))
    }

    /// Fetches a blob, telling `received` the bytes received so far as they
    /// arrive; `oci-client` refuses it when it does not hash to its digest.
    pub async fn pull_blob(
        &self,
        reference: &Reference,
        descriptor: &OciDescriptor,
        received: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<Vec<u8>> {
        self.client
            .store_auth_if_needed(&self.registry, &self.auth.auth)
            .await;
        let mut out = Counting {
            bytes: Vec::with_capacity(usize::try_from(descriptor.size).unwrap_or(0).min(64 << 20)),
            received,
        };
        self.client
            .pull_blob(reference, descriptor, &mut out)
            .await
            .map_err(|e| self.error(e, reference))?;
        Ok(out.bytes)
    }

    /// The repository's tags.
    pub async fn list_tags(&self, reference: &Reference) -> Result<Vec<String>> {
        let tags = self
            .client
            .list_tags(reference, &self.auth.auth, None, None)
            .await
            .map_err(|e| self.error(e, reference))?;
        Ok(tags.tags)
    }

    fn error(&self, e: OciDistributionError, reference: &Reference) -> RegistryError {
        let reference = reference.whole();
        let unauthorized = || RegistryError::Unauthorized {
            registry: self.registry.clone(),
            reference: reference.clone(),
            credentials: self.auth.source.clone(),
        };
        let not_found = |detail: String| RegistryError::NotFound {
            reference: reference.clone(),
            detail,
        };
        match e {
            OciDistributionError::UnauthorizedError { .. }
            | OciDistributionError::AuthenticationFailure(_) => unauthorized(),
            OciDistributionError::ServerError {
                code: 401 | 403, ..
            } => unauthorized(),
            OciDistributionError::ServerError {
                code: 404, message, ..
            } => not_found(message.trim().to_string()),
            OciDistributionError::RegistryError { envelope, .. } => {
                let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|e| &e.code).collect();
                let messages = envelope
                    .errors
                    .iter()
                    .map(|e| e.message.as_str())
                    .collect::<Vec<_>>()
                    .join("; ");
                if codes
                    .iter()
                    .any(|c| matches!(c, OciErrorCode::Unauthorized | OciErrorCode::Denied))
                {
                    unauthorized()
                } else if codes.iter().any(|c| {
                    matches!(
                        c,
                        OciErrorCode::ManifestUnknown
                            | OciErrorCode::NameUnknown
                            | OciErrorCode::BlobUnknown
                            | OciErrorCode::NotFound
                    )
                }) {
                    not_found(messages)
                } else {
                    RegistryError::Protocol {
                        reference,
                        detail: messages,
                    }
                }
            }
            OciDistributionError::DigestError(
                oci_client::errors::DigestError::VerificationError { expected, actual },
            ) => RegistryError::DigestMismatch {
                what: format!("content served by {} for `{reference}`", self.registry),
                expected,
                actual,
            },
            OciDistributionError::RequestError(err) => {
                // Status errors of `error_for_status` (e.g. from a blob HEAD) arrive as request errors.
                let text = error_chain(&err);
                if text.contains("(401") || text.contains("(403") {
                    unauthorized()
                } else if text.contains("(404") {
                    not_found(text)
                } else {
                    RegistryError::Unreachable {
                        registry: self.registry.clone(),
                        detail: text,
                    }
                }
            }
            other => RegistryError::Protocol {
                reference,
                detail: error_chain(&other),
            },
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// A blob being received: its bytes so far, and who is told their count.
struct Counting<'a> {
    bytes: Vec<u8>,
    received: &'a (dyn Fn(u64) + Send + Sync),
}

impl tokio::io::AsyncWrite for Counting<'_> {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        this.bytes.extend_from_slice(buf);
        (this.received)(this.bytes.len() as u64);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn loopback_detection() {
        for yes in [
            "127.0.0.1:5000",
            "localhost:1",
            "localhost",
            "[::1]:5000",
            "127.3.4.5",
        ] {
            assert!(is_loopback(yes), "{yes}");
        }
        for no in [
            "10.0.0.1:5000",
            "example.com",
            "localhost.evil.com:5000",
            "[fe80::1]:5",
        ] {
            assert!(!is_loopback(no), "{no}");
        }
    }
}
