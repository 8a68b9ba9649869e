//! Hooks: what an adapter declares (kind, scope, order, title) together
//! with the function that implements it.

use serde_json::{Map, Value};

use crate::Result;
use crate::context::{Context, Mode, Role};

/// What setup and teardown return: outputs to record on the plug so later
/// hooks (teardown, check) find what setup created.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub(crate) outputs: Map<String, Value>,
    pub(crate) secrets: Vec<(String, String)>,
}

impl Outcome {
    /// An outcome recording nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a non-secret output on the plug (kept in its `settings`).
    pub fn output(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.outputs.insert(name.into(), value.into());
        self
    }

    /// Removes a recorded output (e.g. in teardown).
    pub fn clear_output(mut self, name: impl Into<String>) -> Self {
        self.outputs.insert(name.into(), Value::Null);
        self
    }

    /// Records a secret output, stored encrypted by the host and readable by
    /// later hooks of the plug through [`crate::secret`].
    pub fn secret(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.secrets.push((name.into(), value.into()));
        self
    }
}

/// What a check hook found on the product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlugState {
    /// Configured as recorded.
    Up,
    /// No trace of the plug.
    Down,
    /// Present, but not as recorded.
    Drifted,
}

/// What a check hook returns.
#[derive(Debug, Clone)]
pub struct CheckReport {
    /// The state found.
    pub state: PlugState,
    /// What was seen.
    pub detail: String,
}

impl CheckReport {
    /// A report with the given state and detail.
    pub fn new(state: PlugState, detail: impl Into<String>) -> Self {
        CheckReport {
            state,
            detail: detail.into(),
        }
    }
}

/// What a produce hook returns for one batch.
#[derive(Debug, Clone, Default)]
pub struct ProduceReport {
    /// Records the other side accepted.
    pub accepted: u32,
    /// Anything worth showing.
    pub detail: String,
}

/// A file returned by a scaffold hook, relative to the integration's folder.
#[derive(Debug, Clone)]
pub struct File {
    /// Relative path with `/` separators.
    pub path: String,
    /// Contents.
    pub contents: Vec<u8>,
}

/// A product definition returned by a pull hook.
#[derive(Debug, Clone)]
pub struct ProductDefinition {
    /// The product's folder name.
    pub name: String,
    /// The text of its `definition.yaml`.
    pub definition: String,
}

/// A running watch: the host calls [`Watch::next`] until it returns `None`.
pub trait Watch {
    /// The next batch of records, or `None` when the stream ended.
    fn next(&mut self) -> Result<Option<Vec<String>>>;
}

/// Where a hook runs among the hooks of the same plug side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Before every other hook.
    First,
    /// After every other hook.
    Last,
    /// Ascending position, between `First` and `Last`.
    Position(i32),
}

/// The function behind a hook, one variant per hook kind.
#[derive(Clone, Copy)]
pub enum HookFn {
    /// See [`Hook::setup`].
    Setup(fn(&Context) -> Result<Outcome>),
    /// See [`Hook::teardown`].
    Teardown(fn(&Context) -> Result<Outcome>),
    /// See [`Hook::check`].
    Check(fn(&Context) -> Result<CheckReport>),
    /// See [`Hook::produce`].
    Produce(fn(&Context, Vec<Vec<u8>>) -> Result<ProduceReport>),
    /// See [`Hook::watch`].
    Watch(fn(&Context) -> Result<Box<dyn Watch>>),
    /// See [`Hook::trigger`].
    Trigger(fn(&Context, Value) -> Result<Value>),
    /// See [`Hook::execute`].
    Execute(fn(&Context, Value) -> Result<Value>),
    /// See [`Hook::scaffold`].
    Scaffold(fn(&Context) -> Result<Vec<File>>),
    /// See [`Hook::pull`].
    Pull(fn(&Context) -> Result<Vec<ProductDefinition>>),
    /// See [`Hook::publish`].
    Publish(fn(&Context) -> Result<String>),
}

/// One hook of an adapter: its id, function and scope. Built with a
/// constructor per kind then refined, e.g. the equivalent of the original
/// Meshroom's `@setup_consumer("events", order="first", owns_both=True)`:
///
/// ```
/// # use meshroom_sdk::{Hook, Order, Context, Outcome, Result};
/// fn create_webhook(_ctx: &Context) -> Result<Outcome> { Ok(Outcome::new()) }
/// let hook = Hook::setup("create_webhook", create_webhook)
///     .consumer()
///     .topic("events")
///     .order(Order::First)
///     .owns_both()
///     .title("Create the events webhook");
/// assert_eq!(hook.id(), "create_webhook");
/// ```
#[derive(Clone)]
pub struct Hook {
    pub(crate) id: String,
    pub(crate) func: HookFn,
    pub(crate) role: Option<Role>,
    pub(crate) topic: Option<String>,
    pub(crate) mode: Option<Mode>,
    pub(crate) format: Option<String>,
    pub(crate) target: Option<String>,
    pub(crate) owns_both: bool,
    pub(crate) keep_when_overloaded: bool,
    pub(crate) order: Option<Order>,
    pub(crate) title: Option<String>,
}

macro_rules! constructor {
    ($(#[$doc:meta])* $name:ident, $variant:ident, $sig:ty) => {
        $(#[$doc])*
        pub fn $name(id: impl Into<String>, f: $sig) -> Self {
            Self::new(id.into(), HookFn::$variant(f))
        }
    };
}

impl Hook {
    fn new(id: String, func: HookFn) -> Self {
        Hook {
            id,
            func,
            role: None,
            topic: None,
            mode: None,
            format: None,
            target: None,
            owns_both: false,
            keep_when_overloaded: false,
            order: None,
            title: None,
        }
    }

    constructor!(
        /// A setup hook, run by `meshroom up`.
        setup, Setup, fn(&Context) -> Result<Outcome>);
    constructor!(
        /// A teardown hook, run by `meshroom down`; reads what setup recorded.
        teardown, Teardown, fn(&Context) -> Result<Outcome>);
    constructor!(
        /// A check hook, run by `meshroom check`.
        check, Check, fn(&Context) -> Result<CheckReport>);
    constructor!(
        /// A produce hook, run by `meshroom produce` with batches of records.
        produce, Produce, fn(&Context, Vec<Vec<u8>>) -> Result<ProduceReport>);
    constructor!(
        /// A watch hook, run by `meshroom watch`.
        watch, Watch, fn(&Context) -> Result<Box<dyn Watch>>);
    constructor!(
        /// A trigger hook, run by `meshroom trigger` with JSON params.
        trigger, Trigger, fn(&Context, Value) -> Result<Value>);
    constructor!(
        /// An execute hook, run by `meshroom execute` with JSON params.
        execute, Execute, fn(&Context, Value) -> Result<Value>);
    constructor!(
        /// A scaffold hook, run by `meshroom create integration`.
        scaffold, Scaffold, fn(&Context) -> Result<Vec<File>>);
    constructor!(
        /// A catalog pull hook, run by `meshroom pull PRODUCT`.
        pull, Pull, fn(&Context) -> Result<Vec<ProductDefinition>>);
    constructor!(
        /// A publish hook, run by `meshroom publish`.
        publish, Publish, fn(&Context) -> Result<String>);

    /// The hook's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Serves the given role.
    pub fn role(mut self, role: Role) -> Self {
        self.role = Some(role);
        self
    }
    /// Serves the producer side.
    pub fn producer(self) -> Self {
        self.role(Role::Producer)
    }
    /// Serves the consumer side.
    pub fn consumer(self) -> Self {
        self.role(Role::Consumer)
    }
    /// Serves the trigger side.
    pub fn trigger_role(self) -> Self {
        self.role(Role::Trigger)
    }
    /// Serves the executor side.
    pub fn executor(self) -> Self {
        self.role(Role::Executor)
    }
    /// Only for this topic.
    pub fn topic(mut self, topic: impl Into<String>) -> Self {
        self.topic = Some(topic.into());
        self
    }
    /// Only for this mode.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = Some(mode);
        self
    }
    /// Only for this format.
    pub fn format(mut self, format: impl Into<String>) -> Self {
        self.format = Some(format.into());
        self
    }
    /// Only when the other end is this product (overrides generic hooks).
    pub fn target(mut self, product: impl Into<String>) -> Self {
        self.target = Some(product.into());
        self
    }
    /// This setup hook configures both ends of the plug alone.
    pub fn owns_both(mut self) -> Self {
        self.owns_both = true;
        self
    }
    /// Keep this generic hook when a target-specific one overrides it.
    pub fn keep_when_overloaded(mut self) -> Self {
        self.keep_when_overloaded = true;
        self
    }
    /// Where it runs among the hooks of the same side.
    pub fn order(mut self, order: Order) -> Self {
        self.order = Some(order);
        self
    }
    /// A human title (default: the id).
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }
}

/// A product adapter: the product it serves and its hooks. Implement it on
/// a plain type and export it with [`crate::export!`].
pub trait Adapter {
    /// The product this adapter serves (its folder name under `products/`).
    const PRODUCT: &'static str;
    /// The adapter's version; use `env!("CARGO_PKG_VERSION")`.
    const VERSION: &'static str;
    /// Every hook the adapter has. Kinds without hooks are absent from
    /// `describe()`, and the host never calls them.
    fn hooks() -> Vec<Hook>;
}
