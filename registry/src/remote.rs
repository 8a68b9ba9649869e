//! An OCI distribution registry reached with `oci-client` (authentication, pushes)
//! and with its own GETs of manifests and blobs (bounded, streamed to the cache),
//! its errors translated into the crate's (unauthorized, not found, digest
//! mismatch, unreachable, failing).
//!
//! Requests safe to repeat (GET and HEAD of manifests, blobs and tags) are retried
//! on 5xx and 429 answers and on lost or timed-out connections, with bounded
//! exponential backoff that honours `Retry-After`; every retry is logged (warn)
//! and counted. Pushes are not retried.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::{OCI_IMAGE_MEDIA_TYPE, OciDescriptor};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};

use crate::auth::{AuthConfig, ResolvedAuth};
use crate::cache::BlobCache;
use crate::digest::Digest;
use crate::error::{RegistryError, Result};

/// The largest manifest read: 4 MiB, the bound distribution registries themselves
/// put on a manifest (a product's manifest is a few KiB).
pub const MAX_MANIFEST_BYTES: u64 = 4 << 20;

/// Retries after the first attempt of a request safe to repeat.
pub const MAX_RETRIES: usize = 4;
/// The first retry's delay; each next one doubles, jittered up to twice as long.
const FIRST_DELAY: Duration = Duration::from_millis(250);
/// The longest delay between two attempts.
const MAX_DELAY: Duration = Duration::from_secs(4);
/// The longest `Retry-After` honoured: a server asking for longer is retried after this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

/// Why one attempt of a request failed.
enum Fault {
    /// Worth another try: a 5xx or 429 answer, a connection lost or timed out;
    /// after `retry_after` when the server said so.
    Transient {
        detail: String,
        retry_after: Option<Duration>,
        /// No connection could be made at all.
        unreachable: bool,
    },
    /// Final: another try would get the same answer.
    Fatal(RegistryError),
}

impl From<RegistryError> for Fault {
    fn from(e: RegistryError) -> Self {
        Fault::Fatal(e)
    }
}

/// How a repository's requests are authorized (found once, by `oci-client`).
#[derive(Clone)]
enum Authorization {
    Bearer(String),
    Basic(String, String),
    Anonymous,
}

/// One registry, with the credentials resolved for it.
pub(crate) struct Remote {
    client: Client,
    /// The GETs of manifests and blobs: `oci-client` neither bounds a manifest
    /// nor shows `Retry-After`.
    http: reqwest::Client,
    scheme: &'static str,
    auth: ResolvedAuth,
    registry: String,
    authorizations: Mutex<std::collections::HashMap<String, Authorization>>,
    retries: AtomicU32,
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
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(60))
            .user_agent(concat!("meshroom/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| RegistryError::Unreachable {
                registry: registry.clone(),
                detail: format!("cannot build an HTTP client: {e}"),
            })?;
        let scheme = if insecure || is_loopback(&registry) {
            "http"
        } else {
            "https"
        };
        let auth = auth.resolve(&registry)?;
        tracing::debug!(registry = %registry, credentials = %auth.source, "connecting");
        Ok(Remote {
            client,
            http,
            scheme,
            auth,
            registry,
            authorizations: Mutex::default(),
            retries: AtomicU32::new(0),
        })
    }

    /// Retries made so far by this client (every operation together).
    pub fn retries(&self) -> u32 {
        self.retries.load(Ordering::Relaxed)
    }

    fn url(&self, reference: &Reference, tail: &str) -> String {
        format!(
            "{}://{}/v2/{}/{tail}",
            self.scheme,
            self.registry,
            reference.repository()
        )
    }

    /// Runs `attempt` until it succeeds, fails for good, or the retries are spent.
    async fn retrying<T, F, Fut>(&self, url: &str, attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = std::result::Result<T, Fault>>,
    {
        let mut attempts = 1;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(FIRST_DELAY)
            .with_max_delay(MAX_DELAY)
            .with_max_times(MAX_RETRIES)
            .with_jitter();
        let outcome = attempt
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(|f| matches!(f, Fault::Transient { .. }))
            .adjust(|f, next| match (f, next) {
                (
                    Fault::Transient {
                        retry_after: Some(after),
                        ..
                    },
                    Some(_),
                ) => Some((*after).min(MAX_RETRY_AFTER)),
                _ => next,
            })
            .notify(|f, delay| {
                attempts += 1;
                self.retries.fetch_add(1, Ordering::Relaxed);
                if let Fault::Transient { detail, .. } = f {
                    tracing::warn!(
                        "{url}: {detail}; retry {} of {MAX_RETRIES} in {} ms",
                        attempts - 1,
                        delay.as_millis()
                    );
                }
            })
            .await;
        outcome.map_err(|f| match f {
            Fault::Fatal(e) => e,
            Fault::Transient {
                detail,
                unreachable: true,
                ..
            } => RegistryError::Unreachable {
                registry: self.registry.clone(),
                detail: format!("{detail} (gave up after {attempts} attempts)"),
            },
            Fault::Transient { detail, .. } => RegistryError::Failing {
                registry: self.registry.clone(),
                url: url.to_string(),
                detail,
                attempts,
            },
        })
    }

    /// A GET of `url` with the repository's authorization, its answer checked: 5xx
    /// and 429 are transient, 401/403/404 and other failures final.
    async fn get(
        &self,
        reference: &Reference,
        url: &str,
        accept: Option<&str>,
    ) -> std::result::Result<reqwest::Response, Fault> {
        let mut request = self.http.get(url);
        if let Some(accept) = accept {
            request = request.header(http::header::ACCEPT, accept);
        }
        let request = match self.authorization(reference).await? {
            Authorization::Bearer(token) => request.bearer_auth(token),
            Authorization::Basic(user, password) => request.basic_auth(user, Some(password)),
            Authorization::Anonymous => request,
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let retry_after = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = excerpt(response).await;
        let detail = if body.is_empty() {
            format!("answered {status}")
        } else {
            format!("answered {status}: {body}")
        };
        Err(match status.as_u16() {
            429 | 500..=599 => Fault::Transient {
                detail,
                retry_after,
                unreachable: false,
            },
            401 | 403 => Fault::Fatal(self.unauthorized(reference)),
            404 => Fault::Fatal(RegistryError::NotFound {
                reference: reference.whole(),
                detail: format!("{url} {detail}"),
            }),
            _ => Fault::Fatal(RegistryError::Protocol {
                reference: reference.whole(),
                detail: format!("{url} {detail}"),
            }),
        })
    }

    /// How to authorize requests to `reference`'s repository: asked once (a
    /// bearer token, basic credentials, or none), then reused.
    async fn authorization(
        &self,
        reference: &Reference,
    ) -> std::result::Result<Authorization, Fault> {
        let repository = reference.repository().to_string();
        let known = self
            .authorizations
            .lock()
            .ok()
            .and_then(|a| a.get(&repository).cloned());
        if let Some(known) = known {
            return Ok(known);
        }
        let token = self
            .client
            .auth(reference, &self.auth.auth, RegistryOperation::Pull)
            .await
            .map_err(|e| self.fault(e, reference))?;
        let found = match (token, &self.auth.auth) {
            (Some(token), _) => Authorization::Bearer(token),
            (None, RegistryAuth::Basic(user, password)) => {
                Authorization::Basic(user.clone(), password.clone())
            }
            (None, _) => Authorization::Anonymous,
        };
        if let Ok(mut known) = self.authorizations.lock() {
            known.insert(repository, found.clone());
        }
        Ok(found)
    }

    /// An `oci-client` error as a fault: transient for 5xx, 429 and transport errors.
    fn fault(&self, e: OciDistributionError, reference: &Reference) -> Fault {
        match &e {
            OciDistributionError::ServerError { code, .. }
                if *code == 429 || (500..600).contains(code) =>
            {
                Fault::Transient {
                    detail: error_chain(&e),
                    retry_after: None,
                    unreachable: false,
                }
            }
            OciDistributionError::RequestError(err)
                if err
                    .status()
                    .is_none_or(|s| s.as_u16() == 429 || s.is_server_error()) =>
            {
                Fault::Transient {
                    unreachable: err.is_connect(),
                    detail: error_chain(&e),
                    retry_after: None,
                }
            }
            _ => Fault::Fatal(self.error(e, reference)),
        }
    }

    fn unauthorized(&self, reference: &Reference) -> RegistryError {
        RegistryError::Unauthorized {
            registry: self.registry.clone(),
            reference: reference.whole(),
            credentials: self.auth.source.clone(),
        }
    }

    /// Whether the registry already has the blob (so it need not be uploaded).
    pub async fn has_blob(&self, reference: &Reference, digest: &Digest) -> Result<bool> {
        self.client
            .store_auth_if_needed(&self.registry, &self.auth.auth)
            .await;
        let url = self.url(reference, &format!("blobs/{digest}"));
        self.retrying(&url, || async {
            self.client
                .blob_exists(reference, digest.as_str())
                .await
                .map_err(|e| self.fault(e, reference))
        })
        .await
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

    /// Fetches a manifest (by tag or digest) and its digest, verified against its
    /// bytes (and the `Docker-Content-Digest` the registry sent); one over
    /// [`MAX_MANIFEST_BYTES`] is refused unread.
    pub async fn pull_manifest(&self, reference: &Reference) -> Result<(Vec<u8>, Digest)> {
        let name = reference
            .digest()
            .or(reference.tag())
            .unwrap_or("latest")
            .to_string();
        let url = self.url(reference, &format!("manifests/{name}"));
        let shown = reference.whole();
        let (url, shown) = (&url, &shown);
        let (bytes, announced) = self
            .retrying(url, || async move {
                let mut response = self
                    .get(reference, url, Some(OCI_IMAGE_MEDIA_TYPE))
                    .await?;
                let announced = response
                    .headers()
                    .get("docker-content-digest")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let too_large = |size: String| {
                    Fault::Fatal(RegistryError::TooLarge {
                        what: format!("the manifest of `{shown}`"),
                        url: url.clone(),
                        size,
                        limit: MAX_MANIFEST_BYTES,
                        hint: "a product's manifest is a few KiB: check that the reference names a meshroom product".to_string(),
                    })
                };
                if let Some(length) = response.content_length()
                    && length > MAX_MANIFEST_BYTES
                {
                    return Err(too_large(format!("{length} bytes announced")));
                }
                let mut bytes = Vec::new();
                while let Some(chunk) = response.chunk().await.map_err(transport)? {
                    if (bytes.len() + chunk.len()) as u64 > MAX_MANIFEST_BYTES {
                        return Err(too_large("more sent".to_string()));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok((bytes, announced))
            })
            .await?;
        let what = format!("manifest of `{shown}` from {url}");
        if let Some(announced) = announced {
            Digest::parse(&announced)?.verify(&bytes, &what)?;
        }
        if let Some(expected) = reference.digest() {
            Digest::parse(expected)?.verify(&bytes, &what)?;
        }
        let digest = Digest::of(&bytes);
        Ok((bytes, digest))
    }

    /// Fetches a blob into `cache`, telling `received` the bytes received so far:
    /// streamed to a temporary file while hashed, and in the cache only once its
    /// size and digest are right (never a partial blob). Returns its path there.
    pub async fn pull_blob(
        &self,
        reference: &Reference,
        descriptor: &OciDescriptor,
        cache: &BlobCache,
        what: &str,
        received: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<PathBuf> {
        let digest = Digest::parse(&descriptor.digest)?;
        let size = u64::try_from(descriptor.size).unwrap_or(0);
        let url = self.url(reference, &format!("blobs/{digest}"));
        let what = format!("{what} of `{}` ({url})", reference.whole());
        let (url, what, digest) = (&url, &what, &digest);
        self.retrying(url, || async move {
            let mut response = self.get(reference, url, None).await?;
            if let Some(length) = response.content_length()
                && length != size
            {
                return Err(Fault::Fatal(RegistryError::DigestMismatch {
                    what: format!("{what}: {length} bytes announced, the manifest says {size}"),
                    expected: digest.to_string(),
                    actual: "(not downloaded)".to_string(),
                }));
            }
            let mut blob = cache.writer(digest)?;
            while let Some(chunk) = response.chunk().await.map_err(transport)? {
                if blob.written() + chunk.len() as u64 > size {
                    return Err(Fault::Fatal(RegistryError::DigestMismatch {
                        what: format!("{what}: more than the manifest's {size} bytes sent"),
                        expected: digest.to_string(),
                        actual: "(not kept)".to_string(),
                    }));
                }
                blob.write(&chunk)?;
                received(blob.written());
            }
            Ok(blob.finish(what)?)
        })
        .await
    }

    /// The repository's tags.
    pub async fn list_tags(&self, reference: &Reference) -> Result<Vec<String>> {
        let url = self.url(reference, "tags/list");
        let tags = self
            .retrying(&url, || async {
                self.client
                    .list_tags(reference, &self.auth.auth, None, None)
                    .await
                    .map_err(|e| self.fault(e, reference))
            })
            .await?;
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

/// A transport error (connection refused, reset or closed early, timed out): transient.
fn transport(e: reqwest::Error) -> Fault {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "connection lost"
    };
    Fault::Transient {
        detail: format!("{kind}: {}", error_chain(&e)),
        retry_after: None,
        unreachable: e.is_connect(),
    }
}

/// The start of an error answer's body, for the message (at most 512 bytes read).
async fn excerpt(mut response: reqwest::Response) -> String {
    const MAX: usize = 512;
    let mut bytes = Vec::new();
    while bytes.len() < MAX {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    bytes.truncate(MAX);
    String::from_utf8_lossy(&bytes).trim().to_string()
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
