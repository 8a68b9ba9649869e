//! Publish and pull product artifacts, to and from a distribution registry or an
//! image-layout folder, through the content-addressed cache.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use oci_client::Reference;
use oci_client::manifest::{OCI_IMAGE_MEDIA_TYPE, OciDescriptor};

use crate::artifact::{self, Blob, PackageFile, ProductPackage, TITLE};
use crate::auth::{AuthConfig, Credentials};
use crate::cache::BlobCache;
use crate::digest::Digest;
use crate::error::{RegistryError, Result};
use crate::layout::Layout;
use crate::lockfile::{LockedProduct, LockedSignature, Lockfile};
use crate::progress::{NoProgress, Progress, ProgressEvent};
use crate::reference::{ArtifactRef, LayoutDir};
use crate::remote::Remote;
use crate::signing::Requirement;

/// Overrides the folder of the embedded default image-layout registry.
pub const LAYOUT_DIR_ENV: &str = "MESHROOM_REGISTRY_DIR";

/// The result of a publish.
#[derive(Debug, Clone)]
pub struct Published {
    /// Where it was published, pinned to the manifest digest.
    pub reference: String,
    /// The manifest digest.
    pub manifest_digest: Digest,
    /// The adapter component's digest.
    pub component_digest: Digest,
    /// Blobs uploaded.
    pub uploaded: usize,
    /// Blobs the destination already had (not uploaded again).
    pub skipped: usize,
}

/// A pulled product artifact, verified and cached.
#[derive(Debug, Clone)]
pub struct PulledArtifact {
    /// The product name (the manifest's title).
    pub product: String,
    /// The reference as given.
    pub reference: String,
    /// The manifest digest the reference resolved to.
    pub manifest_digest: Digest,
    /// The adapter component's digest.
    pub component_digest: Digest,
    /// The adapter component in the cache (verified when pulled).
    pub component_path: PathBuf,
    /// `definition.yaml`.
    pub definition: Vec<u8>,
    /// The product's other files (paths checked: relative, no `..`).
    pub files: Vec<PackageFile>,
    /// The manifest's annotations.
    pub annotations: BTreeMap<String, String>,
    /// The `meshroom:adapter` WIT version, if the component names it.
    pub wit_version: Option<String>,
    /// Blobs downloaded (0 on a warm pull).
    pub downloaded: usize,
    /// Blobs found in the cache.
    pub cached: usize,
    /// Requests to the registry retried (after 5xx, 429 or a lost connection).
    pub retries: u32,
    /// The signature that satisfied the requirement it was pulled with, if any.
    pub signature: Option<LockedSignature>,
}

impl PulledArtifact {
    /// The lockfile entry for this pull.
    pub fn lock_entry(&self) -> LockedProduct {
        LockedProduct {
            product: self.product.clone(),
            reference: self.reference.clone(),
            manifest_digest: self.manifest_digest.clone(),
            component_digest: self.component_digest.clone(),
            wit_version: self.wit_version.clone(),
            signature: self.signature.clone(),
        }
    }
}

/// Publishes and pulls product artifacts.
#[derive(Clone)]
pub struct Registry {
    cache: BlobCache,
    auth: AuthConfig,
    insecure: bool,
    default_layout: PathBuf,
    pub(crate) progress: Arc<dyn Progress>,
    /// One client per registry host, reused by every operation of this `Registry`:
    /// building one costs far more than a request (native-tls loads the CA store).
    clients: Arc<Mutex<HashMap<String, Arc<Remote>>>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("cache", &self.cache)
            .field("insecure", &self.insecure)
            .field("default_layout", &self.default_layout)
            .finish_non_exhaustive()
    }
}

/// Where an operation reads or writes.
pub(crate) enum Endpoint {
    Remote(Reference),
    Layout(Layout),
}

impl Registry {
    /// A registry client with the given cache, credential sources and default layout folder.
    pub fn new(cache: BlobCache, auth: AuthConfig, default_layout: impl Into<PathBuf>) -> Self {
        Registry {
            cache,
            auth,
            insecure: false,
            default_layout: default_layout.into(),
            progress: Arc::new(NoProgress),
            clients: Arc::default(),
        }
    }

    /// The user's setup: `$MESHROOM_CACHE`, credentials from the environment and config
    /// files, the default layout in `$MESHROOM_REGISTRY_DIR` or `~/.local/share/meshroom/registry`.
    pub fn from_env() -> Result<Self> {
        let layout = std::env::var_os(LAYOUT_DIR_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| dirs::data_dir().map(|d| d.join("meshroom").join("registry")))
            .ok_or_else(|| RegistryError::Io {
                context: format!(
                    "no data folder for the default registry: set {LAYOUT_DIR_ENV} or HOME"
                ),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            })?;
        Ok(Registry::new(
            BlobCache::from_env()?,
            AuthConfig::from_env(),
            layout,
        ))
    }

    /// Allows plain HTTP to non-loopback registries.
    #[must_use]
    pub fn insecure(mut self, insecure: bool) -> Self {
        self.insecure = insecure;
        self.clients = Arc::default();
        self
    }

    /// Reports progress to `progress`.
    #[must_use]
    pub fn with_progress(mut self, progress: Arc<dyn Progress>) -> Self {
        self.progress = progress;
        self
    }

    /// The blob cache.
    pub fn cache(&self) -> &BlobCache {
        &self.cache
    }

    /// The folder of the embedded default registry.
    pub fn default_layout(&self) -> &std::path::Path {
        &self.default_layout
    }

    pub(crate) fn layout_dir(&self, dir: &LayoutDir) -> PathBuf {
        match dir {
            LayoutDir::Default => self.default_layout.clone(),
            LayoutDir::Path(p) => p.clone(),
        }
    }

    pub(crate) fn connect(&self, reference: &Reference) -> Result<Arc<Remote>> {
        let key = reference.resolve_registry().to_string();
        if let Some(found) = self.clients.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(found);
        }
        let remote = Arc::new(Remote::connect(reference, &self.auth, self.insecure)?);
        if let Ok(mut clients) = self.clients.lock() {
            clients.insert(key, remote.clone());
        }
        Ok(remote)
    }

    /// The client for `reference`: the one in `pulling` once a pull has
    /// connected, else [`Self::connect`]'s, kept there with its retry count
    /// at that moment (clients are shared across pulls, so a pull's retries
    /// are the count's growth since).
    fn connect_once(
        &self,
        reference: &Reference,
        pulling: &mut Option<(Arc<Remote>, u32)>,
    ) -> Result<Arc<Remote>> {
        if let Some((client, _)) = pulling {
            return Ok(client.clone());
        }
        let client = self.connect(reference)?;
        *pulling = Some((client.clone(), client.retries()));
        Ok(client)
    }

    /// Publishes `package` to `to` (which must name a tag); blobs the destination already
    /// has are not uploaded again.
    pub async fn publish(&self, package: &ProductPackage, to: &ArtifactRef) -> Result<Published> {
        if to.tag().is_none() || to.digest().is_some() {
            return Err(RegistryError::InvalidReference {
                reference: to.to_string(),
                reason: "publish needs a tag and no digest (the digest is computed)".to_string(),
            });
        }
        let built = artifact::build(package)?;
        let (mut uploaded, mut skipped) = (0, 0);
        let endpoint = match to {
            ArtifactRef::Remote(r) => Endpoint::Remote(r.clone()),
            ArtifactRef::Layout { dir, .. } => {
                Endpoint::Layout(Layout::create(&self.layout_dir(dir))?)
            }
        };
        let remote = match &endpoint {
            Endpoint::Remote(r) => Some(self.connect(r)?),
            Endpoint::Layout(_) => None,
        };
        for (i, Blob { descriptor, bytes }) in built.blobs.iter().enumerate() {
            let digest = Digest::parse(&descriptor.digest)?;
            let what = blob_role(i, descriptor);
            let size = bytes.len() as u64;
            let present = match (&endpoint, &remote) {
                (Endpoint::Remote(r), Some(remote)) => remote.has_blob(r, &digest).await?,
                (Endpoint::Layout(l), _) => l.has_blob(&digest),
                (Endpoint::Remote(_), None) => false,
            };
            if present {
                skipped += 1;
                self.progress.event(ProgressEvent::Skipped {
                    digest: digest.to_string(),
                    what,
                    size,
                });
                continue;
            }
            self.progress.event(ProgressEvent::Started {
                digest: digest.to_string(),
                what,
                size,
            });
            match (&endpoint, &remote) {
                (Endpoint::Remote(r), Some(remote)) => {
                    remote.push_blob(r, &digest, bytes.clone()).await?
                }
                (Endpoint::Layout(l), _) => l.put_blob(&digest, bytes)?,
                (Endpoint::Remote(_), None) => {}
            }
            uploaded += 1;
            self.progress.event(ProgressEvent::Finished {
                digest: digest.to_string(),
            });
        }
        match (&endpoint, &remote) {
            (Endpoint::Remote(r), Some(remote)) => {
                remote.push_manifest(r, built.manifest.clone()).await?
            }
            (Endpoint::Layout(l), _) => {
                l.put_blob(&built.manifest_digest, &built.manifest)?;
                let name = to.layout_ref_name().unwrap_or_else(|| "latest".to_string());
                l.tag(
                    &name,
                    &built.manifest_digest,
                    OCI_IMAGE_MEDIA_TYPE,
                    built.manifest.len(),
                )?;
            }
            (Endpoint::Remote(_), None) => {}
        }
        tracing::info!(reference = %to, digest = %built.manifest_digest, uploaded, skipped, "published");
        Ok(Published {
            reference: to.pinned(&built.manifest_digest).to_string(),
            manifest_digest: built.manifest_digest,
            component_digest: built.component_digest,
            uploaded,
            skipped,
        })
    }

    /// Pulls `from` (tag or digest) into the cache, verifying every blob; blobs already
    /// cached are not downloaded (a digest reference whose blobs are all cached makes no request).
    pub async fn pull(&self, from: &ArtifactRef) -> Result<PulledArtifact> {
        self.pull_checked(from, None).await
    }

    /// [`Registry::pull`], refusing the artifact before any of its layers is fetched
    /// unless `requirement` (when given) accepts a signature over its manifest digest.
    pub async fn pull_checked(
        &self,
        from: &ArtifactRef,
        requirement: Option<&Requirement>,
    ) -> Result<PulledArtifact> {
        let shown = from.to_string();
        // Connected on first need: a pull the cache answers makes none.
        let mut remote: Option<(Arc<Remote>, u32)> = None;
        let endpoint = match from {
            ArtifactRef::Remote(r) => Endpoint::Remote(r.clone()),
            ArtifactRef::Layout { dir, .. } => {
                Endpoint::Layout(Layout::open(&self.layout_dir(dir), &shown)?)
            }
        };

        let cached_manifest = match from.digest() {
            Some(d) => self.cache.get(&d)?.map(|bytes| (bytes, d)),
            None => None,
        };
        let (manifest, manifest_digest) = match cached_manifest {
            Some(found) => found,
            None => {
                let (bytes, digest) = match &endpoint {
                    Endpoint::Remote(r) => {
                        let client = self.connect_once(r, &mut remote)?;
                        client.pull_manifest(r).await?
                    }
                    Endpoint::Layout(l) => {
                        let digest = match (from.digest(), from.layout_ref_name()) {
                            (Some(d), _) => d,
                            (None, Some(name)) => {
                                l.resolve(&name)?
                                    .ok_or_else(|| RegistryError::NotFound {
                                        reference: shown.clone(),
                                        detail: format!(
                                            "no manifest named `{name}` in `{}`",
                                            self.layout_dir(layout_dir(from)).display()
                                        ),
                                    })?
                                    .digest
                            }
                            (None, None) => {
                                return Err(RegistryError::InvalidReference {
                                    reference: shown,
                                    reason: "needs a tag or a digest".to_string(),
                                });
                            }
                        };
                        (l.get_blob(&digest, &shown)?, digest)
                    }
                };
                if let Some(expected) = from.digest() {
                    expected.verify(&bytes, &format!("manifest of `{shown}`"))?;
                }
                self.cache.put(&digest, &bytes)?;
                (bytes, digest)
            }
        };

        let signature = match requirement {
            Some(requirement) => Some(self.verify(from, &manifest_digest, requirement).await?),
            None => None,
        };
        let parsed = artifact::parse_manifest(&manifest, &shown)?;
        let (mut downloaded, mut cached) = (0, 0);
        // Into the cache, verified; the component is not read into memory.
        let mut fetch = async |descriptor: &OciDescriptor, what: &str| -> Result<Digest> {
            let digest = Digest::parse(&descriptor.digest)?;
            let size = u64::try_from(descriptor.size).unwrap_or(0);
            if self.cache.verify_present(&digest)? {
                cached += 1;
                self.progress.event(ProgressEvent::Skipped {
                    digest: digest.to_string(),
                    what: what.to_string(),
                    size,
                });
                return Ok(digest);
            }
            self.progress.event(ProgressEvent::Started {
                digest: digest.to_string(),
                what: what.to_string(),
                size,
            });
            match &endpoint {
                Endpoint::Remote(r) => {
                    let client = self.connect_once(r, &mut remote)?;
                    let progress = &self.progress;
                    let received = |bytes: u64| {
                        progress.event(ProgressEvent::Transferred {
                            digest: digest.to_string(),
                            bytes,
                        })
                    };
                    client
                        .pull_blob(r, descriptor, &self.cache, what, &received)
                        .await?;
                }
                Endpoint::Layout(l) => {
                    let bytes = l.get_blob(&digest, &shown)?;
                    if bytes.len() as u64 != size {
                        return Err(RegistryError::DigestMismatch {
                            what: format!(
                                "{what} of `{shown}` (size {} instead of {size})",
                                bytes.len()
                            ),
                            expected: digest.to_string(),
                            actual: Digest::of(&bytes).to_string(),
                        });
                    }
                    self.cache.put(&digest, &bytes)?;
                }
            }
            downloaded += 1;
            self.progress.event(ProgressEvent::Finished {
                digest: digest.to_string(),
            });
            Ok(digest)
        };
        let read = |digest: &Digest| -> Result<Vec<u8>> {
            self.cache.get(digest)?.ok_or_else(|| RegistryError::Io {
                context: format!(
                    "blob {digest} of `{shown}` vanished from the cache `{}`",
                    self.cache.root().display()
                ),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            })
        };

        let config = read(&fetch(&parsed.config, "config").await?)?;
        fetch(&parsed.component, "adapter component").await?;
        let definition = read(&fetch(&parsed.definition, "definition").await?)?;
        let mut files = Vec::new();
        for (path, descriptor) in &parsed.files {
            files.push(PackageFile {
                path: path.clone(),
                bytes: read(&fetch(descriptor, path).await?)?,
            });
        }
        let retries = remote.map_or(0, |(r, before)| r.retries() - before);

        let component_digest = Digest::parse(&parsed.component.digest)?;
        let product = parsed
            .annotations
            .get(TITLE)
            .map(String::as_str)
            .or_else(|| from.name_hint())
            .filter(|n| !n.contains('/') && artifact::check_relative_path(n).is_ok())
            .ok_or_else(|| RegistryError::InvalidArtifact {
                reference: shown.clone(),
                reason: format!("no usable product name (`{TITLE}` annotation)"),
            })?
            .to_string();
        tracing::info!(reference = %shown, digest = %manifest_digest, downloaded, cached, retries, "pulled");
        Ok(PulledArtifact {
            product,
            reference: shown,
            component_path: self.cache.blob_path(&component_digest),
            manifest_digest,
            component_digest,
            definition,
            files,
            annotations: parsed.annotations,
            wit_version: artifact::wit_version(&config),
            downloaded,
            cached,
            retries,
            signature,
        })
    }

    /// Fetches exactly what a lockfile entry names (by manifest digest), checking the
    /// component digest too; nothing is downloaded when the cache has it all.
    pub async fn fetch_locked(&self, entry: &LockedProduct) -> Result<PulledArtifact> {
        let reference = ArtifactRef::parse(&entry.reference)?.pinned(&entry.manifest_digest);
        let mut pulled = self.pull(&reference).await?;
        if pulled.component_digest != entry.component_digest {
            return Err(RegistryError::DigestMismatch {
                what: format!("adapter component of locked product `{}`", entry.product),
                expected: entry.component_digest.to_string(),
                actual: pulled.component_digest.to_string(),
            });
        }
        pulled.reference = entry.reference.clone();
        pulled.signature = entry.signature.clone();
        Ok(pulled)
    }

    /// Fetches every product `lock` names (what `up` needs before running adapters),
    /// downloading only what the cache lacks and verifying everything.
    pub async fn fetch_all_locked(&self, lock: &Lockfile) -> Result<Vec<PulledArtifact>> {
        let mut pulled = Vec::with_capacity(lock.products.len());
        for entry in &lock.products {
            pulled.push(self.fetch_locked(entry).await?);
        }
        Ok(pulled)
    }

    /// The tags of the repository `of` names (for "is there a newer version?").
    pub async fn tags(&self, of: &ArtifactRef) -> Result<Vec<String>> {
        match of {
            ArtifactRef::Remote(r) => self.connect(r)?.list_tags(r).await,
            ArtifactRef::Layout {
                dir, repository, ..
            } => {
                let shown = of.to_string();
                let layout = Layout::open(&self.layout_dir(dir), &shown)?;
                let names = layout.names()?;
                Ok(match repository {
                    Some(repo) => names
                        .into_iter()
                        .filter_map(|n| n.strip_prefix(&format!("{repo}:")).map(str::to_string))
                        .collect(),
                    None => names,
                })
            }
        }
    }

    /// Tags of `entry`'s repository that are versions newer than the tag it was pulled
    /// by, newest first (for `meshroom list products --outdated`); empty when the
    /// reference has no version-like tag.
    pub async fn newer_versions(&self, entry: &LockedProduct) -> Result<Vec<String>> {
        let reference = ArtifactRef::parse(&entry.reference)?;
        let Some(current) = reference.tag().map(str::to_string) else {
            return Ok(Vec::new());
        };
        let tags = self.tags(&reference).await?;
        Ok(crate::versions::newer_tags(&current, &tags))
    }

    /// Checks that `credentials` are accepted by `registry` (for `meshroom registry login`).
    pub async fn check_login(&self, registry: &str, credentials: &Credentials) -> Result<()> {
        let reference = Reference::with_tag(
            registry.to_string(),
            "meshroom-login-check".to_string(),
            "latest".to_string(),
        );
        let auth = AuthConfig {
            explicit: Some(credentials.clone()),
            ..AuthConfig::default()
        };
        let remote = Remote::connect(&reference, &auth, self.insecure)?;
        match remote.list_tags(&reference).await {
            Ok(_) | Err(RegistryError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

fn layout_dir(r: &ArtifactRef) -> &LayoutDir {
    match r {
        ArtifactRef::Layout { dir, .. } => dir,
        ArtifactRef::Remote(_) => &LayoutDir::Default,
    }
}

fn blob_role(index: usize, descriptor: &OciDescriptor) -> String {
    match index {
        0 => "config".to_string(),
        _ => descriptor
            .annotations
            .as_ref()
            .and_then(|a| a.get(TITLE))
            .cloned()
            .unwrap_or_else(|| descriptor.media_type.clone()),
    }
}
