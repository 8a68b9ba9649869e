//! meshroom-project, the project model: the on-disk layout of a meshroom project, exactly as
//! the original Python Meshroom 0.3.4 writes it, loaded once per command.
//!
//! ```text
//! products/<product>/definition.yaml                         settings + capabilities
//! products/<product>/integrations/<target>/<topic>_<role>[_<format>][_pull].yml
//! instances/<product>/<instance>/config.yaml                 an instance's settings
//! instances/<product>/<src>/plugs/<dst>/<topic>[_pull].yaml  a plug and its state
//! ```
//!
//! This module is pure: it reads and writes the project folder and nothing
//! else — no network, no adapters. Who can set an integration up comes from
//! a [`HookIndex`] the engine fills from the adapters' `describe()`.
//! Every write is atomic and stays inside the project folder.
//!
//! Main entry points: [`Project::load`] (or [`Project::load_scope`] for a
//! command that reads only part of the project: see [`Scope`]), lookups ([`Project::product`],
//! [`Project::instance`], [`Project::find_plug`], [`Project::plug_ends`]),
//! listings ([`Project::list_integrations`], [`Project::integration_views`]),
//! [`Project::resolve_plug`] / [`Project::plug`], and the writes
//! ([`Project::save_plug`], [`Project::save_instance`]…), and the one-writer
//! lock a command takes before any of them ([`lock::ProjectLock`]).

mod adapter_crate;
mod capability;
mod error;
pub mod graph;
mod hooks;
mod instance;
mod integration;
pub mod lock;
pub mod names;
mod plug;
mod product;
#[allow(clippy::module_inception)]
mod project;
mod python_hooks;
mod query;
mod reader;
mod resolve;
mod scope;
mod secret_names;
mod setting;
pub mod templates;
pub mod trust;
mod yaml;

pub use adapter_crate::{adapter_crate_files, configured_capability, scenario_files};
pub use capability::{Capability, CapabilityDecl, CapabilityRef, Mode, Role};
pub use error::{ProjectError, Result};
pub use hooks::{DeclaredHook, HookIndex, HookKind, HookOrder, SetupOwnership};
pub use instance::{Instance, InstanceConfig};
pub use integration::{Integration, IntegrationManifest, IntegrationView, parse_file_stem};
pub use plug::{Plug, PlugKind, PlugOwner, PlugState, PlugStatus};
pub use product::{CapabilityMap, Product, ProductDefinition};
pub use project::{PlugIndex, Project, is_project};
pub use python_hooks::PythonFileProblem;
pub use query::{IntegrationFilter, ListedIntegration};
pub use reader::RACY as LOAD_CACHE_RACY;
pub use resolve::{PlugOutcome, PlugRefusal, PlugRequest, Resolution, ResolveError, SetupBy};
pub use scope::{Scope, Select};
pub use secret_names::looks_secret;
pub use setting::{Setting, SettingItems, SettingType, is_secret_setting, parse_value};
pub use trust::{DEFAULT_TRUST_FILE, Require, TRUST_FILE, TrustPolicy, TrustRule};

#[cfg(test)]
mod tests;
