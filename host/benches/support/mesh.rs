//! The 500-plug / 100-instance benchmark mesh (20 EDR instances, 80
//! instances of an example product, each EDR plugged into 25 of them)
//! against a local HTTP API answering every request after 20 ms, and one
//! `up` of it. Each plug runs the example product's setup hook (one POST);
//! the hooks of one instance run one at a time, so the floor is the longest
//! per-instance chain of calls × 20 ms. Shared by the engine bench (the
//! Rust example adapter) and the python bench (its Python twin), so both
//! measure the same mesh. Included with `#[path]`: not a bench itself.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use meshroom::engine::{Action, RunOptions, Selection, Session, Verdict, run};
use meshroom::project::Project;
use meshroom::runtime::RuntimeConfig;
use meshroom::secrets::{IdentityConfig, SecretScope, SecretStore, SecretValue};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const DELAY: Duration = Duration::from_millis(20);
pub const EDRS: usize = 20;
pub const SIEMS: usize = 80;
pub const PLUGS_PER_EDR: usize = 25;
/// Hook calls at once (`MESHROOM_BENCH_JOBS`, default 128).
fn jobs() -> usize {
    std::env::var("MESHROOM_BENCH_JOBS")
        .ok()
        .and_then(|j| j.parse().ok())
        .unwrap_or(128)
}

/// An HTTP/1.1 server answering every request after `delay` with a new
/// webhook id; returns its base URL.
pub async fn api(delay: Duration) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let mut n = 0u64;
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                continue;
            };
            n += 1;
            let id = n;
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    // Read one request (headers + content-length body).
                    let (head_end, len) = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
                            let len = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            break (i + 4, len);
                        }
                        match conn.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(k) => buf.extend_from_slice(&chunk[..k]),
                        }
                    };
                    while buf.len() < head_end + len {
                        match conn.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(k) => buf.extend_from_slice(&chunk[..k]),
                        }
                    }
                    buf.drain(..head_end + len);
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    let body = format!("{{\"id\":\"wh-{id}\"}}");
                    let answer = format!(
                        "HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if conn.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

fn write(path: PathBuf, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The example product the mesh's 80 consumers are instances of.
pub struct Example<'a> {
    /// The product's name (its folder in `products/`).
    pub name: &'a str,
    /// Its `definition.yaml` (with an `adapter:` key naming `<name>.wasm`).
    pub definition: String,
    /// The component.
    pub wasm: &'a [u8],
}

/// Writes the mesh below `root`; returns a secrets store holding each
/// example instance's `api_key`, and the store's (x25519) identity.
pub fn write_mesh(
    root: &Path,
    url: &str,
    example: &Example<'_>,
) -> (SecretStore, age::x25519::Identity) {
    let name = example.name;
    let dir = root.join("products").join(name);
    write(dir.join("definition.yaml"), &example.definition);
    std::fs::write(dir.join(format!("{name}.wasm")), example.wasm).unwrap();
    write(
        root.join("products/edr/definition.yaml"),
        "name: edr\nproduces:\n  events:\n    - mode: push\n",
    );
    let identity = age::x25519::Identity::generate();
    let mut store = open_store(root, &identity);
    store
        .add_recipient(identity.to_public(), Some("bench"))
        .unwrap();
    for s in 0..SIEMS {
        let siem = format!("siem{s}");
        write(
            root.join(format!("instances/{name}/{siem}/config.yaml")),
            &format!("name: {siem}\nproduct: {name}\nsettings:\n  url: {url}\n"),
        );
        store
            .set(
                &SecretScope::instance(name, &siem),
                "api_key",
                SecretValue::new("k".into()),
            )
            .unwrap();
    }
    store.save().unwrap();
    for e in 0..EDRS {
        let edr = format!("edr{e}");
        write(
            root.join(format!("instances/edr/{edr}/config.yaml")),
            &format!("name: {edr}\nproduct: edr\n"),
        );
        for k in 0..PLUGS_PER_EDR {
            let dst = format!("siem{}", (e * PLUGS_PER_EDR + k) % SIEMS);
            write(
                root.join(format!("instances/edr/{edr}/plugs/{dst}/events.yaml")),
                &format!("src_instance: {edr}\ndst_instance: {dst}\ntopic: events\nmode: push\n"),
            );
        }
    }
    (store, identity)
}

fn open_store(root: &Path, identity: &age::x25519::Identity) -> SecretStore {
    SecretStore::open_with(
        root,
        IdentityConfig {
            identity: Some(identity.to_string()),
            ..IdentityConfig::default()
        },
    )
}

fn session(tokio: &tokio::runtime::Runtime, project: &Project, cache: &Path) -> Session {
    tokio
        .block_on(Session::start(
            project,
            RuntimeConfig {
                cache_dir: Some(cache.to_path_buf()),
                max_instances: jobs() as u32 + 8,
                ..RuntimeConfig::default()
            },
        ))
        .unwrap()
}

/// The mesh, loaded, with a session (adapter compiled and cached) ready to
/// run `up` again and again from the same pristine project.
pub struct Mesh {
    pristine: Project,
    engine: Arc<Session>,
    /// The longest per-instance chain of calls × `DELAY`.
    pub floor: Duration,
    identity: age::x25519::Identity,
    dirs: (tempfile::TempDir, tempfile::TempDir),
}

impl Mesh {
    /// `MESHROOM_BENCH_DIR`: where the project lives (e.g. /dev/shm to
    /// leave the disk's fsync cost out).
    pub fn new(tokio: &tokio::runtime::Runtime, example: &Example<'_>) -> Mesh {
        let dir = match std::env::var_os("MESHROOM_BENCH_DIR") {
            Some(d) => tempfile::tempdir_in(d).unwrap(),
            None => tempfile::tempdir().unwrap(),
        };
        let cache = tempfile::tempdir().unwrap();
        let url = tokio.block_on(api(DELAY));
        let (store, identity) = write_mesh(dir.path(), &url, example);
        let pristine = Project::load(dir.path()).unwrap();
        assert_eq!(pristine.plugs().len(), EDRS * PLUGS_PER_EDR);
        let engine = Arc::new(session(tokio, &pristine, cache.path()).with_secrets(store));
        let plan = engine.plan(&pristine, &Selection::default(), Action::Up);
        let mut per_instance: HashMap<&str, usize> = HashMap::new();
        for s in plan.plugs.iter().flat_map(|p| &p.steps) {
            *per_instance.entry(s.instance.as_str()).or_default() += 1;
        }
        let chain = per_instance.values().copied().max().unwrap();
        let floor = DELAY * chain as u32;
        eprintln!(
            "{}: {} plugs, {} hook calls, longest per-instance chain {chain} calls = {floor:?} at {DELAY:?} per call",
            example.name,
            plan.plugs.len(),
            plan.step_count()
        );
        Mesh {
            pristine,
            engine,
            floor,
            identity,
            dirs: (dir, cache),
        }
    }

    /// The wall time of one `up` of every plug, from the pristine project;
    /// panics unless every plug came up.
    pub fn up(&self, tokio: &tokio::runtime::Runtime) -> Duration {
        self.up_with(tokio, self.engine.clone(), None)
    }

    /// [`Mesh::up`] in a new session, as a command has, recording into
    /// `deck` when given (the cassettes written before the clock stops).
    #[allow(dead_code)]
    pub fn up_in_new_session(
        &self,
        tokio: &tokio::runtime::Runtime,
        deck: Option<meshroom_cassette::Deck>,
    ) -> Duration {
        let store = open_store(self.dirs.0.path(), &self.identity);
        let engine = session(tokio, &self.pristine, self.dirs.1.path())
            .with_secrets(store)
            .with_tape(deck.clone());
        self.up_with(tokio, Arc::new(engine), deck)
    }

    fn up_with(
        &self,
        tokio: &tokio::runtime::Runtime,
        engine: Arc<Session>,
        deck: Option<meshroom_cassette::Deck>,
    ) -> Duration {
        let mut project = self.pristine.clone();
        let plan = engine.plan(&project, &Selection::default(), Action::Up);
        let options = RunOptions {
            jobs: jobs(),
            ..RunOptions::default()
        };
        let started = Instant::now();
        let report = tokio.block_on(run(engine, &mut project, plan, &options));
        if let Some(deck) = deck {
            assert_eq!(deck.save().unwrap().len(), EDRS * PLUGS_PER_EDR);
        }
        let wall = started.elapsed();
        assert_eq!(
            report.count(Verdict::Done),
            EDRS * PLUGS_PER_EDR,
            "{:?}",
            report.plugs.iter().find(|p| p.verdict != Verdict::Done)
        );
        wall
    }
}
