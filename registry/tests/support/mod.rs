//! Test support: a real `docker-registry` (CNCF distribution) on a free loopback port,
//! with its own storage folder, stopped when dropped; and test products.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use meshroom_registry::{
    AuthConfig, BlobCache, Credentials, Metadata, PackageFile, ProductPackage, Registry, Zeroizing,
};

/// A running registry; killed (by its own pid) on drop.
pub struct RegistryServer {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Child,
    /// Byte offset in the access log where counting starts.
    mark: std::cell::Cell<usize>,
}

pub const USER: &str = "vendor";
pub const PASSWORD: &str = "correct horse";

impl RegistryServer {
    /// Starts a registry without authentication.
    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// Starts a registry with htpasswd (bcrypt) Basic auth for [`USER`]/[`PASSWORD`].
    pub fn start_with_auth() -> Self {
        Self::start_with(true)
    }

    fn start_with(auth: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog: {{level: info}}\nstorage: {{filesystem: {{rootdirectory: {}}}, delete: {{enabled: true}}}}\nhttp: {{addr: 127.0.0.1:0}}\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        if auth {
            let out = Command::new("htpasswd")
                .args(["-Bbn", USER, PASSWORD])
                .output()
                .expect("htpasswd (apache2-utils) is installed");
            assert!(out.status.success(), "htpasswd failed");
            std::fs::write(dir.path().join("htpasswd"), out.stdout).unwrap();
        }
        for _attempt in 0..20 {
            let port = free_port();
            let mut cmd = Command::new("docker-registry");
            cmd.arg("serve")
                .arg(&config)
                .env("REGISTRY_HTTP_ADDR", format!("127.0.0.1:{port}"))
                .stdin(Stdio::null())
                .stdout(std::fs::File::create(dir.path().join("access.log")).unwrap())
                .stderr(std::fs::File::create(dir.path().join("registry.log")).unwrap());
            if auth {
                cmd.env("REGISTRY_AUTH", "htpasswd")
                    .env("REGISTRY_AUTH_HTPASSWD_REALM", "meshroom-test")
                    .env("REGISTRY_AUTH_HTPASSWD_PATH", dir.path().join("htpasswd"));
            }
            let mut child = cmd.spawn().expect("docker-registry is installed");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // port taken: try another
                }
                if let Some(status) = http_status(port, "/v2/") {
                    assert!(
                        status == 200 || status == 401,
                        "unexpected /v2/ status {status}"
                    );
                    let server = RegistryServer {
                        dir,
                        port,
                        child,
                        mark: std::cell::Cell::new(0),
                    };
                    // The readiness probe is not part of what tests count.
                    server.clear_log();
                    return server;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "docker-registry did not start; see {}",
            dir.path().join("registry.log").display()
        );
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The registry's storage root (`docker/registry/v2/...` inside).
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Path of a blob's data file in the registry storage.
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self.storage()
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    fn log(&self) -> String {
        // The registry logs a request just after answering it.
        std::thread::sleep(Duration::from_millis(150));
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }

    /// Access-log request lines (`METHOD PATH`) received since the last [`Self::clear_log`].
    pub fn requests(&self) -> Vec<String> {
        let log = self.log();
        log.get(self.mark.get()..)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split('"').nth(1))
            .map(|r| r.trim_end_matches(" HTTP/1.1").to_string())
            .collect()
    }

    /// Starts counting requests afresh.
    pub fn clear_log(&self) {
        self.mark.set(self.log().len());
    }

    /// Counts requests of `method` whose path contains `part`.
    pub fn count(&self, method: &str, part: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.starts_with(&format!("{method} ")) && r.contains(part))
            .count()
    }
}

impl Drop for RegistryServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Minimal HTTP/1.0 GET on loopback: the status code, or `None` if nothing answers.
fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().ok()?,
        Duration::from_millis(200),
    )
    .ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    buf.split_whitespace().nth(1)?.parse().ok()
}

/// A valid component: the component header plus a custom section padding it to `size` bytes.
pub fn component(size: usize) -> Vec<u8> {
    let mut bytes = b"\0asm\x0d\x00\x01\x00".to_vec();
    if size <= bytes.len() {
        return bytes;
    }
    let name = b"meshroom-test-padding";
    // Section: id 0, LEB128 size, name (LEB128 length + bytes), payload.
    let overhead = bytes.len() + 1 + 5 + 1 + name.len();
    let payload = size.saturating_sub(overhead);
    let content_len = 1 + name.len() + payload;
    bytes.push(0);
    let mut n = content_len as u32;
    for i in 0..5 {
        let mut byte = (n & 0x7f) as u8;
        n >>= 7;
        if i < 4 {
            byte |= 0x80; // fixed 5-byte LEB128 keeps the size exact
        }
        bytes.push(byte);
    }
    bytes.push(name.len() as u8);
    bytes.extend_from_slice(name);
    bytes.extend((0..payload).map(|i| (i * 7 % 251) as u8));
    bytes
}

/// A product package with a definition and one integration manifest.
pub fn package(name: &str, component_size: usize) -> ProductPackage {
    ProductPackage {
        name: name.to_string(),
        component: component(component_size),
        definition: format!("name: {name}\ndescription: |\n  A test product\n  on two lines\nvendor: Acme\nconsumes:\n  events:\n  - format: ecs\n").into_bytes(),
        files: vec![PackageFile {
            path: "integrations/zeek/events_consumer.yml".to_string(),
            bytes: b"description: receive zeek events\n".to_vec(),
        }],
        metadata: Metadata {
            description: Some("A test product\non two lines".to_string()),
            version: Some("1.2.0".to_string()),
            vendor: Some("Acme".to_string()),
            source: Some("https://example.invalid/acme".to_string()),
            ..Default::default()
        },
    }
}

/// A registry client with a fresh cache in `dir`, anonymous, default layout in `dir/layout`.
pub fn client(dir: &Path) -> Registry {
    Registry::new(
        BlobCache::new(dir.join("cache")),
        AuthConfig::anonymous(),
        dir.join("layout"),
    )
}

/// A registry client with explicit credentials.
pub fn client_with(dir: &Path, user: &str, password: &str) -> Registry {
    let auth = AuthConfig {
        explicit: Some(Credentials {
            username: user.to_string(),
            password: Zeroizing::new(password.to_string()),
        }),
        ..AuthConfig::default()
    };
    Registry::new(BlobCache::new(dir.join("cache")), auth, dir.join("layout"))
}

/// Runs skopeo; panics with its stderr on failure.
pub fn skopeo(args: &[&str]) -> Vec<u8> {
    let out = Command::new("skopeo")
        .args(args)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .output()
        .expect("skopeo is installed");
    assert!(
        out.status.success(),
        "skopeo {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
