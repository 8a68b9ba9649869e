//! What a hook receives: the instance, the plug and the integration it
//! serves, with typed access to settings, secrets and recorded outputs.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::bindings::meshroom::adapter::types as wit;
use crate::{Error, Result};

/// The side of a capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Emits data on a topic.
    Producer,
    /// Receives data on a topic.
    Consumer,
    /// Sends commands on a topic.
    Trigger,
    /// Runs commands received on a topic.
    Executor,
}

/// Who initiates the exchange on a plug.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The producer sends to the consumer.
    Push,
    /// The consumer fetches from the producer.
    Pull,
}

/// An instance (tenant) of a product.
#[derive(Debug, Clone)]
pub struct Instance {
    /// Its name.
    pub name: String,
    /// Its product.
    pub product: String,
    /// Its non-secret settings.
    pub settings: Map<String, Value>,
}

/// A live edge between two instances.
#[derive(Debug, Clone)]
pub struct Plug {
    /// The producing (or triggering) instance.
    pub src: Instance,
    /// The consuming (or executing) instance.
    pub dst: Instance,
    /// The topic.
    pub topic: String,
    /// The mode.
    pub mode: Mode,
    /// The format, when fixed.
    pub format: Option<String>,
    /// True for a trigger/executor plug.
    pub is_trigger: bool,
    /// Configuration of the source side.
    pub src_config: Map<String, Value>,
    /// Configuration of the destination side.
    pub dst_config: Map<String, Value>,
    /// Non-secret outputs recorded by earlier setup hooks.
    pub outputs: Map<String, Value>,
}

/// The recipe for one end of an edge.
#[derive(Debug, Clone)]
pub struct Integration {
    /// The product holding it.
    pub product: String,
    /// The product at the other end.
    pub target_product: String,
    /// The topic.
    pub topic: String,
    /// The side `product` plays.
    pub role: Role,
    /// The mode.
    pub mode: Mode,
    /// The format, if fixed.
    pub format: Option<String>,
    /// The integration's own fields.
    pub settings: Map<String, Value>,
}

/// Everything the host passed to a hook call.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The instance whose adapter runs (on a plug: the side this hook serves).
    pub instance: Option<Instance>,
    /// The plug, with both ends.
    pub plug: Option<Plug>,
    /// The integration the hook serves.
    pub integration: Option<Integration>,
}

impl Instance {
    /// A setting's value, or an `invalid-config` error naming the instance.
    pub fn setting(&self, name: &str) -> Result<&Value> {
        match self.settings.get(name) {
            Some(Value::Null) | None => Err(Error::InvalidConfig(format!(
                "instance `{}` of `{}` has no setting `{name}`: set it with `meshroom configure {} {}`",
                self.name, self.product, self.product, self.name
            ))),
            Some(v) => Ok(v),
        }
    }

    /// A string setting.
    pub fn setting_str(&self, name: &str) -> Result<&str> {
        self.setting(name)?.as_str().ok_or_else(|| {
            Error::InvalidConfig(format!(
                "setting `{name}` of instance `{}` must be a string",
                self.name
            ))
        })
    }

    /// A setting deserialized into `T`.
    pub fn setting_as<T: DeserializeOwned>(&self, name: &str) -> Result<T> {
        serde_json::from_value(self.setting(name)?.clone()).map_err(|e| {
            Error::InvalidConfig(format!(
                "setting `{name}` of instance `{}` is malformed: {e}",
                self.name
            ))
        })
    }
}

impl Plug {
    /// A recorded output, if setup recorded it.
    pub fn output(&self, name: &str) -> Option<&Value> {
        self.outputs.get(name).filter(|v| !v.is_null())
    }

    /// A recorded string output, or an error saying setup did not record it.
    pub fn output_str(&self, name: &str) -> Result<&str> {
        self.output(name).and_then(Value::as_str).ok_or_else(|| {
            Error::InvalidConfig(format!(
                "plug {} -> {} ({}) has no recorded output `{name}`: was it set up?",
                self.src.name, self.dst.name, self.topic
            ))
        })
    }
}

impl Context {
    /// The instance, or an error if the host called the hook without one.
    pub fn instance(&self) -> Result<&Instance> {
        self.instance
            .as_ref()
            .ok_or_else(|| Error::InvalidConfig("this hook needs an instance".into()))
    }

    /// The plug, or an error if the host called the hook without one.
    pub fn plug(&self) -> Result<&Plug> {
        self.plug
            .as_ref()
            .ok_or_else(|| Error::InvalidConfig("this hook needs a plug".into()))
    }

    /// The integration, or an error if the host called the hook without one.
    pub fn integration(&self) -> Result<&Integration> {
        self.integration
            .as_ref()
            .ok_or_else(|| Error::InvalidConfig("this hook needs an integration".into()))
    }

    /// A setting of the current instance (see [`Instance::setting`]).
    pub fn setting(&self, name: &str) -> Result<&Value> {
        self.instance()?.setting(name)
    }

    /// A string setting of the current instance.
    pub fn setting_str(&self, name: &str) -> Result<&str> {
        self.instance()?.setting_str(name)
    }

    /// A recorded output of the plug, if any.
    pub fn output(&self, name: &str) -> Option<&Value> {
        self.plug.as_ref().and_then(|p| p.output(name))
    }

    /// A recorded string output of the plug, or an error.
    pub fn output_str(&self, name: &str) -> Result<&str> {
        self.plug()?.output_str(name)
    }

    /// A secret of the current instance or plug (see [`crate::secret`]), or
    /// an `invalid-config` error naming it.
    pub fn secret(&self, name: &str) -> Result<String> {
        crate::secret(name).ok_or_else(|| {
            let who = self
                .instance
                .as_ref()
                .map(|i| format!(" of instance `{}`", i.name))
                .unwrap_or_default();
            Error::InvalidConfig(format!(
                "secret `{name}`{who} is not set: set it with `meshroom configure`"
            ))
        })
    }
}

fn object(json: &str, what: &str) -> Result<Map<String, Value>> {
    if json.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(json) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(Value::Null) => Ok(Map::new()),
        Ok(_) => Err(Error::Failed(format!(
            "host sent {what} that is not a JSON object"
        ))),
        Err(e) => Err(Error::Failed(format!(
            "host sent invalid JSON for {what}: {e}"
        ))),
    }
}

impl From<wit::Role> for Role {
    fn from(r: wit::Role) -> Self {
        match r {
            wit::Role::Producer => Role::Producer,
            wit::Role::Consumer => Role::Consumer,
            wit::Role::Trigger => Role::Trigger,
            wit::Role::Executor => Role::Executor,
        }
    }
}

impl From<Role> for wit::Role {
    fn from(r: Role) -> Self {
        match r {
            Role::Producer => wit::Role::Producer,
            Role::Consumer => wit::Role::Consumer,
            Role::Trigger => wit::Role::Trigger,
            Role::Executor => wit::Role::Executor,
        }
    }
}

impl From<wit::Mode> for Mode {
    fn from(m: wit::Mode) -> Self {
        match m {
            wit::Mode::Push => Mode::Push,
            wit::Mode::Pull => Mode::Pull,
        }
    }
}

impl From<Mode> for wit::Mode {
    fn from(m: Mode) -> Self {
        match m {
            Mode::Push => wit::Mode::Push,
            Mode::Pull => wit::Mode::Pull,
        }
    }
}

impl Instance {
    fn from_wit(i: wit::Instance) -> Result<Self> {
        let settings = object(&i.settings, "instance settings")?;
        Ok(Instance {
            name: i.name,
            product: i.product,
            settings,
        })
    }
}

impl Context {
    pub(crate) fn from_wit(c: wit::Context) -> Result<Self> {
        let instance = c.instance.map(Instance::from_wit).transpose()?;
        let plug = match c.plug {
            None => None,
            Some(p) => Some(Plug {
                src: Instance::from_wit(p.src)?,
                dst: Instance::from_wit(p.dst)?,
                topic: p.topic,
                mode: p.mode.into(),
                format: p.format,
                is_trigger: p.is_trigger,
                src_config: object(&p.src_config, "plug src_config")?,
                dst_config: object(&p.dst_config, "plug dst_config")?,
                outputs: object(&p.outputs, "plug outputs")?,
            }),
        };
        let integration = match c.integration {
            None => None,
            Some(i) => Some(Integration {
                product: i.product,
                target_product: i.target_product,
                topic: i.topic,
                role: i.role.into(),
                mode: i.mode.into(),
                format: i.format,
                settings: object(&i.settings, "integration settings")?,
            }),
        };
        Ok(Context {
            instance,
            plug,
            integration,
        })
    }
}
