//! An OCI image-layout folder used as a registry: `oci-layout`, `index.json`, `blobs/sha256/`.
//!
//! This is the embedded default (nothing to run on one machine) and also what
//! `skopeo copy … oci:DIR:TAG` reads and writes. Unknown fields of `index.json` are kept.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::digest::Digest;
use crate::error::{RegistryError, Result};
use crate::fsutil::{read_if_exists, save};

/// The annotation an image layout uses to name (tag) a manifest.
pub const REF_NAME_ANNOTATION: &str = "org.opencontainers.image.ref.name";

/// An image-layout folder.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    dir: PathBuf,
}

/// A manifest named in `index.json`.
#[derive(Debug, Clone)]
pub(crate) struct IndexEntry {
    pub digest: Digest,
}

impl Layout {
    /// Opens a layout for writing, creating the folder, `oci-layout` and `index.json` if needed.
    pub fn create(dir: &Path) -> Result<Self> {
        let layout = Layout {
            dir: dir.to_path_buf(),
        };
        let marker = dir.join("oci-layout");
        if !marker.is_file() {
            save(&marker, br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        }
        let index = dir.join("index.json");
        if !index.is_file() {
            save(&index, &index_bytes(&empty_index())?)?;
        }
        Ok(layout)
    }

    /// Opens an existing layout for reading.
    pub fn open(dir: &Path, reference: &str) -> Result<Self> {
        if !dir.join("oci-layout").is_file() || !dir.join("index.json").is_file() {
            return Err(RegistryError::NotFound {
                reference: reference.to_string(),
                detail: format!(
                    "`{}` is not an OCI image layout (no oci-layout or index.json)",
                    dir.display()
                ),
            });
        }
        Ok(Layout {
            dir: dir.to_path_buf(),
        })
    }

    fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.dir.join("blobs").join("sha256").join(digest.hex())
    }

    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    pub fn put_blob(&self, digest: &Digest, bytes: &[u8]) -> Result<()> {
        save(&self.blob_path(digest), bytes)
    }

    /// Reads a blob and verifies it against its digest.
    pub fn get_blob(&self, digest: &Digest, reference: &str) -> Result<Vec<u8>> {
        let path = self.blob_path(digest);
        let bytes = read_if_exists(&path)?.ok_or_else(|| RegistryError::NotFound {
            reference: reference.to_string(),
            detail: format!("blob {digest} is missing from `{}`", self.dir.display()),
        })?;
        digest.verify(&bytes, &format!("blob `{}`", path.display()))?;
        Ok(bytes)
    }

    fn read_index(&self) -> Result<Value> {
        let path = self.dir.join("index.json");
        let bytes = read_if_exists(&path)?.unwrap_or_default();
        if bytes.is_empty() {
            return Ok(empty_index());
        }
        serde_json::from_slice(&bytes).map_err(|e| RegistryError::InvalidArtifact {
            reference: path.display().to_string(),
            reason: format!("index.json is not valid JSON: {e}"),
        })
    }

    /// Finds the manifest named `ref_name`.
    pub fn resolve(&self, ref_name: &str) -> Result<Option<IndexEntry>> {
        let index = self.read_index()?;
        let entries = index
            .get("manifests")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for entry in entries {
            let name = entry
                .pointer(&format!(
                    "/annotations/{}",
                    REF_NAME_ANNOTATION.replace('/', "~1")
                ))
                .and_then(Value::as_str);
            if name == Some(ref_name) {
                let digest = entry
                    .get("digest")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                return Ok(Some(IndexEntry {
                    digest: Digest::parse(digest)?,
                }));
            }
        }
        Ok(None)
    }

    /// All manifest names in `index.json`.
    pub fn names(&self) -> Result<Vec<String>> {
        let index = self.read_index()?;
        Ok(index
            .get("manifests")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|e| {
                        e.get("annotations")?
                            .get(REF_NAME_ANNOTATION)?
                            .as_str()
                            .map(str::to_string)
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Names `digest` as `ref_name` in `index.json` (replacing a previous manifest of that name).
    pub fn tag(
        &self,
        ref_name: &str,
        digest: &Digest,
        media_type: &str,
        size: usize,
    ) -> Result<()> {
        // Serialise the read-modify-write of index.json between concurrent publishers.
        let lock_path = self.dir.join(".index.json.lock");
        let lock = std::fs::File::create(&lock_path)
            .map_err(|e| RegistryError::io("create", &lock_path, e))?;
        lock.lock()
            .map_err(|e| RegistryError::io("lock", &lock_path, e))?;
        let mut index = self.read_index()?;
        let Some(obj) = index.as_object_mut() else {
            return Err(RegistryError::InvalidArtifact {
                reference: self.dir.join("index.json").display().to_string(),
                reason: "index.json is not a JSON object".to_string(),
            });
        };
        let manifests = obj.entry("manifests").or_insert_with(|| json!([]));
        if !manifests.is_array() {
            *manifests = json!([]);
        }
        if let Some(list) = manifests.as_array_mut() {
            list.retain(|e| {
                e.get("annotations")
                    .and_then(|a| a.get(REF_NAME_ANNOTATION))
                    .and_then(Value::as_str)
                    != Some(ref_name)
            });
            list.push(json!({
                "mediaType": media_type,
                "digest": digest.as_str(),
                "size": size,
                "annotations": { REF_NAME_ANNOTATION: ref_name },
            }));
        }
        save(&self.dir.join("index.json"), &index_bytes(&index)?)
    }
}

fn empty_index() -> Value {
    json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [],
    })
}

fn index_bytes(index: &Value) -> Result<Vec<u8>> {
    serde_json::to_vec(index).map_err(|e| RegistryError::Io {
        context: "failed to encode index.json".to_string(),
        source: std::io::Error::other(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_replaces_the_previous_manifest_of_the_same_name() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(dir.path()).unwrap();
        let (a, b) = (Digest::of(b"a"), Digest::of(b"b"));
        layout.tag("v1", &a, "m", 1).unwrap();
        layout.tag("v2", &a, "m", 1).unwrap();
        layout.tag("v1", &b, "m", 1).unwrap();
        assert_eq!(layout.resolve("v1").unwrap().unwrap().digest, b);
        assert_eq!(layout.resolve("v2").unwrap().unwrap().digest, a);
        assert!(layout.resolve("v3").unwrap().is_none());
        let index: Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("index.json")).unwrap()).unwrap();
        assert_eq!(index["manifests"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn open_refuses_a_folder_that_is_not_a_layout() {
        let dir = tempfile::tempdir().unwrap();
        let err = Layout::open(dir.path(), "oci-layout:x:y")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("not found"), "{err}");
    }
}
