//! The runtime's public types: what the engine passes to a hook and what
//! it gets back. Plain Rust values (the runtime knows nothing of YAML or of
//! the secrets store).

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use zeroize::Zeroize;

/// What a hook does, and which command calls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HookKind {
    /// `meshroom up`.
    Setup,
    /// `meshroom down`.
    Teardown,
    /// `meshroom check`.
    Check,
    /// `meshroom produce`.
    Produce,
    /// `meshroom watch`.
    Watch,
    /// `meshroom trigger`.
    Trigger,
    /// `meshroom execute`.
    Execute,
    /// `meshroom create integration`.
    Scaffold,
    /// `meshroom pull PRODUCT`.
    Pull,
    /// `meshroom publish`.
    Publish,
}

impl HookKind {
    /// The lowercase name used in the WIT and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            HookKind::Setup => "setup",
            HookKind::Teardown => "teardown",
            HookKind::Check => "check",
            HookKind::Produce => "produce",
            HookKind::Watch => "watch",
            HookKind::Trigger => "trigger",
            HookKind::Execute => "execute",
            HookKind::Scaffold => "scaffold",
            HookKind::Pull => "pull",
            HookKind::Publish => "publish",
        }
    }
}

impl fmt::Display for HookKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The side of a capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Emits data.
    Producer,
    /// Receives data.
    Consumer,
    /// Sends commands.
    Trigger,
    /// Runs commands.
    Executor,
}

/// Who initiates the exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Producer sends.
    Push,
    /// Consumer fetches.
    Pull,
}

/// Where a hook runs among the hooks of the same plug side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HookOrder {
    /// Before every other hook.
    First,
    /// After every other hook.
    Last,
    /// Ascending, between first and last.
    Position(i32),
}

/// One hook an adapter declared in `describe()`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookInfo {
    /// Id to call it with.
    pub id: String,
    /// Kind.
    pub kind: HookKind,
    /// Role served (unset = product-wide).
    pub role: Option<Role>,
    /// Topic served (unset = every topic).
    pub topic: Option<String>,
    /// Mode served (unset = both).
    pub mode: Option<Mode>,
    /// Format served (unset = any).
    pub format: Option<String>,
    /// Other end's product (unset = generic hook).
    pub target_product: Option<String>,
    /// Sets up both ends alone.
    pub owns_both: bool,
    /// Kept when a target-specific hook overrides it.
    pub keep_when_overloaded: bool,
    /// Order among hooks of the same side.
    pub order: Option<HookOrder>,
    /// Human title.
    pub title: String,
}

/// What `describe()` returned, cached per component digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdapterInfo {
    /// The product the adapter serves.
    pub product: String,
    /// The adapter's version.
    pub version: String,
    /// Its hooks.
    pub hooks: Vec<HookInfo>,
}

impl AdapterInfo {
    /// The hooks of one kind.
    pub fn hooks_of(&self, kind: HookKind) -> impl Iterator<Item = &HookInfo> {
        self.hooks.iter().filter(move |h| h.kind == kind)
    }
}

/// An instance as a hook sees it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct InstanceRef {
    /// Instance name.
    pub name: String,
    /// Its product.
    pub product: String,
    /// Non-secret settings (a JSON object; never put secrets here).
    pub settings: Value,
}

/// A plug as a hook sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlugRef {
    /// Producer (or trigger) instance.
    pub src: InstanceRef,
    /// Consumer (or executor) instance.
    pub dst: InstanceRef,
    /// Topic.
    pub topic: String,
    /// Mode.
    pub mode: Mode,
    /// Format, if fixed.
    pub format: Option<String>,
    /// A trigger/executor plug.
    pub is_trigger: bool,
    /// Source-side configuration (JSON object).
    pub src_config: Value,
    /// Destination-side configuration (JSON object).
    pub dst_config: Value,
    /// Non-secret outputs recorded by setup hooks (JSON object).
    pub outputs: Value,
}

/// An integration as a hook sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IntegrationRef {
    /// Product holding it.
    pub product: String,
    /// Other end's product.
    pub target_product: String,
    /// Topic.
    pub topic: String,
    /// Role of `product`.
    pub role: Role,
    /// Mode.
    pub mode: Mode,
    /// Format, if fixed.
    pub format: Option<String>,
    /// The integration's own fields (JSON object).
    pub settings: Value,
}

/// Everything passed to a hook call.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HookContext {
    /// The instance whose adapter runs (the side the hook serves).
    pub instance: Option<InstanceRef>,
    /// The plug, with both ends.
    pub plug: Option<PlugRef>,
    /// The integration.
    pub integration: Option<IntegrationRef>,
}

/// A secret value: never shown by `Debug`/`Display`, wiped on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        SecretValue(value.into())
    }
    /// The secret itself; keep it out of logs and files.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(***)")
    }
}

impl Drop for SecretValue {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// A secret output a setup hook asked the host to keep encrypted.
#[derive(Debug, Clone)]
pub struct SecretOutput {
    /// Its name (readable again through `host.secret` by later hooks of the plug).
    pub name: String,
    /// Its value.
    pub value: SecretValue,
}

/// What setup and teardown return.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Non-secret outputs to merge into the plug's recorded outputs; a
    /// `null` value removes a recorded output.
    pub outputs: Map<String, Value>,
    /// Secret outputs to store encrypted.
    pub secrets: Vec<SecretOutput>,
}

impl Outcome {
    /// The outcome as JSON, secret output values left out: `{"outputs":
    /// {...}, "secret_outputs": [names]}` (what a cassette records and a
    /// conformance scenario expects).
    pub fn summary(&self) -> Value {
        let names: Vec<&str> = self.secrets.iter().map(|s| s.name.as_str()).collect();
        serde_json::json!({ "outputs": self.outputs, "secret_outputs": names })
    }
}

/// What a check hook found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckState {
    /// Configured as recorded.
    Up,
    /// Gone.
    Down,
    /// Present but different.
    Drifted,
}

/// What `check` returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    /// State found.
    pub state: CheckState,
    /// What was seen.
    pub detail: String,
}

/// What `produce` returns for one batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProduceReport {
    /// Records accepted.
    pub accepted: u32,
    /// Detail.
    pub detail: String,
}

/// A file returned by a scaffold hook. The path is untrusted: the caller
/// must refuse absolute paths, `..` and links before writing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaffoldFile {
    /// Path relative to the target folder, as the adapter sent it.
    pub path: String,
    /// Contents.
    pub contents: Vec<u8>,
}

/// A product definition returned by a pull hook (untrusted: validate it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulledProduct {
    /// Folder name under `products/`.
    pub name: String,
    /// `definition.yaml` text.
    pub definition: String,
}
