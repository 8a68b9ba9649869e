//! The engine: between the project model and the adapter runtime.
//!
//! - finds each product's adapter (`adapter:` in its definition: a `.wasm`
//!   file in the product folder, or an OCI reference locked in
//!   `meshroom.lock` and kept in the blob cache) and loads it once per
//!   digest ([`Session::open`]);
//! - refuses a locked adapter the project's trust policy (`trust.yaml`)
//!   refuses, re-checking the signature `meshroom.lock` records against the
//!   cached payload before the component is loaded (no registry request);
//! - fills the model's hook index from the adapters' `describe()`
//!   ([`listing_hook_index`] for listings: cached by digest, never
//!   recompiling);
//! - builds each hook call's context (non-secret settings only) and policy
//!   (egress templated from the current instance's settings; secrets from
//!   the store, scoped to the plug then the instance).
//!
//! It must not print: commands do. It never writes a secret anywhere but the
//! encrypted store.

pub mod conformance;
mod context;
mod egress;
mod error;
pub mod events;
mod index;
mod limits;
mod plan;
mod repair;
mod run;
mod secrets;
mod session;
mod sides;
mod source;
mod trust;

pub use context::{hook_context, instance_ref, integration_ref, plug_ref, public_settings};
pub use egress::{Egress, egress_of};
pub use error::EngineError;
pub use events::{RunEvent, RunEvents, UiFeed};
pub use index::{
    declared_hooks, describe_product, hook_index, runtime_kind, runtime_mode, runtime_role,
};
pub use limits::limits_of;
pub use plan::{Action, Plan, PlugPlan, Selection, Side, Step, plan};
pub use repair::repair;
pub use run::{PlugReport, RunError, RunOptions, RunReport, StepResult, Verdict, run};
pub use secrets::{SharedSecrets, instance_scope, plug_scope};
pub use session::{Session, listing_hook_index};
pub use sides::{PlugSides, plug_sides};
pub use source::AdapterSource;
pub use trust::{policy_keys, requirement_for};

pub mod exercise;
pub mod files;
pub mod vendor;
