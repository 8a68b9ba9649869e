//! Plugs: live edges between two instances,
//! `instances/<product>/<src>/plugs/<dst>/<topic>[_pull].yaml`.

use std::fmt;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::capability::Mode;
use super::error::Result;
use super::instance::file_name;
use super::reader::Reader;
use super::resolve::SetupBy;
use super::yaml::null_as_default;

/// Whether a plug is set up on its products.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlugStatus {
    Up,
    #[default]
    Down,
}

impl PlugStatus {
    pub fn is_down(&self) -> bool {
        *self == PlugStatus::Down
    }
    pub fn as_str(self) -> &'static str {
        match self {
            PlugStatus::Up => "up",
            PlugStatus::Down => "down",
        }
    }
}

/// Where a plug stands, as meshroom shows it: the original's `status`
/// (up or down), failed when its last `up` or `down` failed (its
/// [`Plug::last_error`] says why; the status stays what it was), or
/// pending when an `up` or `down` of it started and was never seen to end
/// (the process was killed: see [`Plug::pending`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlugState {
    Up,
    Down,
    Failed,
    Pending,
}

impl PlugState {
    pub fn as_str(self) -> &'static str {
        match self {
            PlugState::Up => "up",
            PlugState::Down => "down",
            PlugState::Failed => "failed",
            PlugState::Pending => "pending",
        }
    }
}

impl fmt::Display for PlugState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `kind: trigger` marks a trigger → executor plug; absent for producer → consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlugKind {
    Trigger,
}

/// `owner:` of a plug: who must set it up. Stored as the original writes
/// it: `both` (each side sets up its own), or an instance's name (that
/// instance's side owns both sides).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum PlugOwner {
    /// `owner: both`.
    EachOwnSide,
    /// `owner: <instance>`.
    Instance(String),
}

impl PlugOwner {
    /// Whether this owner lets setup be done by `setup_by` on a plug from
    /// instance `src` to instance `dst`.
    pub fn permits(&self, setup_by: SetupBy, src: &str, dst: &str) -> bool {
        match (self, setup_by) {
            (PlugOwner::EachOwnSide, SetupBy::EachOwnSide) => true,
            (PlugOwner::Instance(name), SetupBy::Source) => name == src,
            (PlugOwner::Instance(name), SetupBy::Destination) => name == dst,
            _ => false,
        }
    }

    /// [`Self::permits`] for an optional owner: no owner permits anyone.
    pub fn permits_opt(owner: Option<&Self>, setup_by: SetupBy, src: &str, dst: &str) -> bool {
        owner.is_none_or(|o| o.permits(setup_by, src, dst))
    }
}

impl From<String> for PlugOwner {
    fn from(s: String) -> Self {
        if s == "both" {
            PlugOwner::EachOwnSide
        } else {
            PlugOwner::Instance(s)
        }
    }
}

impl From<PlugOwner> for String {
    fn from(o: PlugOwner) -> Self {
        match o {
            PlugOwner::EachOwnSide => "both".to_string(),
            PlugOwner::Instance(name) => name,
        }
    }
}

impl fmt::Display for PlugOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlugOwner::EachOwnSide => f.write_str("both"),
            PlugOwner::Instance(name) => f.write_str(name),
        }
    }
}

/// A plug, as stored in its YAML file (field names and defaults as the original).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plug {
    #[serde(default)]
    pub src_instance: String,
    #[serde(default)]
    pub dst_instance: String,
    #[serde(default)]
    pub topic: String,
    #[serde(default)]
    pub mode: Mode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Map::is_empty"
    )]
    pub src_config: Map<String, Value>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Map::is_empty"
    )]
    pub dst_config: Map<String, Value>,
    #[serde(default, skip_serializing_if = "PlugStatus::is_down")]
    pub status: PlugStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<PlugKind>,
    /// Who sets the plug up; `None`: whoever the rules choose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<PlugOwner>,
    /// Outputs recorded by setup hooks (ids of what they created), so
    /// teardown can find them. Never secrets.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Map::is_empty"
    )]
    pub settings: Map<String, Value>,
    /// Why the last `up` or `down` of this plug failed (meshroom's key; the
    /// original ignores it). Cleared when one succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The status an `up` or `down` of this plug was moving to when it
    /// started (meshroom's key `pending:`; the original ignores it). Made
    /// durable before the plug's first hook runs and cleared when its run
    /// ends, so a plug still pending was interrupted mid-way (the process
    /// was killed) and its product may hold part of a setup: the next `up`
    /// tears down first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<PlugStatus>,
    #[serde(flatten)]
    pub extra: IndexMap<String, Value>,
    /// The source instance's product (its folder), not stored in the file.
    #[serde(skip)]
    pub src_product: String,
}

impl Plug {
    pub fn is_trigger(&self) -> bool {
        self.kind == Some(PlugKind::Trigger)
    }

    /// Where the plug stands: failed when its last run failed, pending
    /// when a run of it never ended, else its status.
    pub fn state(&self) -> PlugState {
        match (&self.last_error, self.pending, self.status) {
            (Some(_), _, _) => PlugState::Failed,
            (None, Some(_), _) => PlugState::Pending,
            (None, None, PlugStatus::Up) => PlugState::Up,
            (None, None, PlugStatus::Down) => PlugState::Down,
        }
    }

    /// Records that a run taking this plug to `status` starts (the intent
    /// a killed run leaves behind).
    pub fn record_start(&mut self, status: PlugStatus) {
        self.pending = Some(status);
    }

    /// Records that a run of this plug failed with `error`; its status
    /// stays what it was.
    pub fn record_failure(&mut self, error: impl fmt::Display) {
        self.last_error = Some(error.to_string());
        self.pending = None;
    }

    /// Records that a run of this plug succeeded and left it `status`.
    pub fn record_success(&mut self, status: PlugStatus) {
        self.last_error = None;
        self.pending = None;
        self.status = status;
    }

    /// Writes this plug's file at `path` atomically: the one place the plug
    /// file format is written (see [`crate::Project::save_plug`]).
    pub fn write_to(&self, path: &Path) -> Result<()> {
        super::yaml::write(path, self)
    }

    /// The file name of this plug in its destination folder.
    pub fn file_name(&self) -> String {
        match self.mode {
            Mode::Push => format!("{}.yaml", self.topic),
            Mode::Pull => format!("{}_pull.yaml", self.topic),
        }
    }

    /// `<src instance dir>/plugs/<dst>/<topic>[_pull].yaml`.
    pub fn path_in(&self, src_instance_dir: &Path) -> PathBuf {
        src_instance_dir
            .join("plugs")
            .join(&self.dst_instance)
            .join(self.file_name())
    }

    /// Loads a plug file; topic, mode and both instances come from its path.
    pub fn load(path: &Path) -> Result<Plug> {
        Self::load_with(&mut Reader::direct(), path)
    }

    /// [`Self::load`] through `reader`.
    pub(super) fn load_with(reader: &mut Reader<'_>, path: &Path) -> Result<Plug> {
        let mut plug: Plug = reader.read(path)?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (topic, mode) = if let Some(t) = stem.strip_suffix("_pull") {
            (t.to_string(), Mode::Pull)
        } else if let Some(t) = stem.strip_suffix("_push") {
            (t.to_string(), Mode::Push)
        } else {
            (stem, Mode::Push)
        };
        plug.topic = topic;
        plug.mode = mode;
        let dst_dir = path.parent().unwrap_or(Path::new(""));
        plug.dst_instance = file_name(dst_dir);
        plug.src_instance = dst_dir
            .parent()
            .and_then(Path::parent)
            .map(file_name)
            .unwrap_or_default();
        Ok(plug)
    }
}

impl fmt::Display for Plug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} --[{}:{}]-> {}",
            self.src_instance, self.topic, self.mode, self.dst_instance
        )?;
        if let Some(fmt) = &self.format {
            write!(f, " ({fmt})")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_takes_names_from_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("instances/p/a/plugs/b/events_pull.yaml");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            &path,
            "src_instance: wrong\ndst_instance: wrong\ntopic: x\nmode: pull\nformat: ecs\nstatus: up\nsettings:\n  id: 7\nlast_error: boom\nextra_key: 1\n",
        )
        .unwrap();
        let plug = Plug::load(&path).unwrap();
        assert_eq!(
            (
                plug.src_instance.as_str(),
                plug.dst_instance.as_str(),
                plug.topic.as_str()
            ),
            ("a", "b", "events")
        );
        assert_eq!(plug.mode, Mode::Pull);
        assert_eq!(plug.status, PlugStatus::Up);
        assert_eq!(plug.last_error.as_deref(), Some("boom"));
        assert_eq!(plug.state(), PlugState::Failed);
        assert!(!plug.extra.contains_key("last_error"));
        assert_eq!(plug.to_string(), "a --[events:pull]-> b (ecs)");
        let out = serde_yaml_ng::to_string(&plug).unwrap();
        assert!(out.contains("extra_key: 1"), "{out}");
        assert!(out.contains("last_error: boom"), "{out}");
        assert!(out.contains("mode: pull"), "{out}");
        assert_eq!(plug.path_in(&dir.path().join("instances/p/a")), path);
    }

    #[test]
    fn a_success_clears_the_failure_and_sets_the_status() {
        let mut plug = Plug::default();
        assert_eq!(plug.state(), PlugState::Down);
        plug.record_failure("unreachable");
        assert_eq!(
            (plug.state(), plug.status),
            (PlugState::Failed, PlugStatus::Down)
        );
        plug.record_success(PlugStatus::Up);
        assert_eq!(
            (plug.state(), plug.last_error.as_deref()),
            (PlugState::Up, None)
        );
    }

    #[test]
    fn a_started_run_leaves_the_plug_pending_until_it_ends() {
        let mut plug = Plug::default();
        plug.record_start(PlugStatus::Up);
        assert_eq!(plug.state(), PlugState::Pending);
        let out = serde_yaml_ng::to_string(&plug).unwrap();
        assert!(out.contains("pending: up"), "{out}");
        let back: Plug = serde_yaml_ng::from_str(&out).unwrap();
        assert_eq!(back.pending, Some(PlugStatus::Up));
        plug.record_failure("unreachable");
        assert_eq!((plug.state(), plug.pending), (PlugState::Failed, None));
        plug.record_start(PlugStatus::Down);
        plug.record_success(PlugStatus::Down);
        assert_eq!((plug.state(), plug.pending), (PlugState::Down, None));
        assert!(!serde_yaml_ng::to_string(&plug).unwrap().contains("pending"));
    }

    #[test]
    fn owners_read_and_write_as_the_original() {
        let both: Plug = serde_yaml_ng::from_str("owner: both\n").unwrap();
        assert_eq!(both.owner, Some(PlugOwner::EachOwnSide));
        let one: Plug = serde_yaml_ng::from_str("owner: a\n").unwrap();
        assert_eq!(one.owner, Some(PlugOwner::Instance("a".into())));
        let none: Plug = serde_yaml_ng::from_str("owner: null\n").unwrap();
        assert_eq!(none.owner, None);
        for (plug, line) in [(both, "owner: both\n"), (one, "owner: a\n")] {
            let out = serde_yaml_ng::to_string(&plug).unwrap();
            assert!(out.contains(line), "{out}");
        }
        assert!(!serde_yaml_ng::to_string(&none).unwrap().contains("owner"));

        let each = PlugOwner::EachOwnSide;
        let a = PlugOwner::Instance("a".into());
        assert!(each.permits(SetupBy::EachOwnSide, "a", "b"));
        assert!(!each.permits(SetupBy::Source, "a", "b"));
        assert!(a.permits(SetupBy::Source, "a", "b"));
        assert!(!a.permits(SetupBy::Destination, "a", "b"));
        assert!(!a.permits(SetupBy::EachOwnSide, "a", "b"));
        assert!(a.permits(SetupBy::Destination, "b", "a"));
        assert!(PlugOwner::permits_opt(None, SetupBy::Source, "a", "b"));
    }
}
