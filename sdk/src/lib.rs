//! # meshroom-sdk: write meshroom product adapters in Rust
//!
//! A product adapter is a WebAssembly component (built for `wasm32-wasip2`)
//! that the meshroom host calls to configure and exercise a product: its
//! setup hooks run on `meshroom up`, teardown on `down`, check on
//! `check`, and so on (see the WIT contract `meshroom:adapter@0.1.0`).
//!
//! You write a plain type implementing [`Adapter`]: the product it serves
//! and its [`Hook`]s, each declared with its scope (role, topic, mode,
//! format, target product, order, owns-both) next to the function that
//! implements it; then one [`export!`] line. Hook kinds you do not declare
//! are absent from `describe()` and never called.
//!
//! Inside a hook, [`Context`] gives typed access to the instance's settings,
//! the plug (both ends, configs, recorded outputs) and the integration;
//! [`secret`] reads the current instance's or plug's secrets; [`http`] and
//! [`tcp`] reach the product (only the hosts the sandbox policy allows);
//! errors are [`Error`] whose kind reaches the operator unchanged.
//!
//! The SDK must not: touch files, read the environment, or keep state
//! between hook calls (every call runs in a fresh instance).
//!
//! ## A complete adapter
//!
//! `Cargo.toml`:
//! ```toml
//! [package]
//! name = "acme-siem-adapter"
//! version = "0.1.0"
//! edition = "2024"
//!
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! meshroom-sdk = { path = "../meshroom/sdk" }
//! serde_json = "1"
//! ```
//!
//! `src/lib.rs`:
//! ```no_run
//! use meshroom_sdk::http::Request;
//! use meshroom_sdk::{Adapter, CheckReport, Context, Hook, Order, Outcome, PlugState, Result};
//!
//! struct AcmeSiem;
//!
//! impl Adapter for AcmeSiem {
//!     const PRODUCT: &'static str = "acme_siem";
//!     const VERSION: &'static str = env!("CARGO_PKG_VERSION");
//!
//!     fn hooks() -> Vec<Hook> {
//!         vec![
//!             // Like the original's @setup_consumer("events", order="first")
//!             Hook::setup("create_collector", create_collector)
//!                 .consumer()
//!                 .topic("events")
//!                 .order(Order::First)
//!                 .title("Create an HTTP collector for events"),
//!             Hook::teardown("delete_collector", delete_collector).consumer().topic("events"),
//!             Hook::check("check_collector", check_collector).consumer().topic("events"),
//!         ]
//!     }
//! }
//!
//! fn create_collector(ctx: &Context) -> Result<Outcome> {
//!     let url = ctx.setting_str("url")?;
//!     let token = ctx.secret("api_key")?;
//!     let plug = ctx.plug()?;
//!     let created: serde_json::Value = Request::post(format!("{url}/collectors"))
//!         .bearer(&token)
//!         .json(&serde_json::json!({ "source": plug.src.name }))?
//!         .send()?
//!         .error_for_status()?
//!         .json()?;
//!     meshroom_sdk::log::info("collector created");
//!     Ok(Outcome::new().output("collector_id", created["id"].clone()))
//! }
//!
//! fn delete_collector(ctx: &Context) -> Result<Outcome> {
//!     let url = ctx.setting_str("url")?;
//!     let id = ctx.output_str("collector_id")?;
//!     Request::delete(format!("{url}/collectors/{id}"))
//!         .bearer(&ctx.secret("api_key")?)
//!         .send()?
//!         .error_for_status()?;
//!     Ok(Outcome::new().clear_output("collector_id"))
//! }
//!
//! fn check_collector(ctx: &Context) -> Result<CheckReport> {
//!     let url = ctx.setting_str("url")?;
//!     let id = ctx.output_str("collector_id")?;
//!     let r = Request::get(format!("{url}/collectors/{id}")).send()?;
//!     Ok(match r.status {
//!         200 => CheckReport::new(PlugState::Up, "collector present"),
//!         404 => CheckReport::new(PlugState::Down, "collector gone"),
//!         s => CheckReport::new(PlugState::Drifted, format!("unexpected status {s}")),
//!     })
//! }
//!
//! meshroom_sdk::export!(AcmeSiem);
//! ```
//!
//! Build it with `cargo build --target wasm32-wasip2 --release` (or
//! `meshroom build PRODUCT`); the component is
//! `target/wasm32-wasip2/release/<crate>.wasm`.

#[doc(hidden)]
pub mod bindings;
mod context;
mod dispatch;
mod error;
mod hook;
pub mod http;
pub mod tcp;

pub use context::{Context, Instance, Integration, Mode, Plug, Role};
pub use error::{Error, Result};
pub use hook::{
    Adapter, CheckReport, File, Hook, HookFn, Order, Outcome, PlugState, ProduceReport,
    ProductDefinition, Watch,
};
pub use serde_json::{self, Value, json};

// The generated export code names this crate by its package name.
extern crate self as meshroom_sdk;

/// Reads a secret of the current instance or plug: a secret setting of the
/// instance (e.g. `api_key`) or a secret output an earlier setup hook of
/// the same plug recorded. `None` when it is not set. The host never hands
/// out another instance's secrets.
pub fn secret(name: &str) -> Option<String> {
    bindings::meshroom::adapter::host::secret(name)
}

/// Logging to the host's log (stderr, tagged with product and hook). Never
/// log a secret.
pub mod log {
    use crate::bindings::meshroom::adapter::host::{LogLevel, log};

    /// Logs at trace level.
    pub fn trace(message: &str) {
        log(LogLevel::Trace, message)
    }
    /// Logs at debug level.
    pub fn debug(message: &str) {
        log(LogLevel::Debug, message)
    }
    /// Logs at info level.
    pub fn info(message: &str) {
        log(LogLevel::Info, message)
    }
    /// Logs at warn level.
    pub fn warn(message: &str) {
        log(LogLevel::Warn, message)
    }
    /// Logs at error level.
    pub fn error(message: &str) {
        log(LogLevel::Error, message)
    }
}

/// Exports an [`Adapter`] as the component's `meshroom:adapter/hooks`.
/// Use it once, at the root of the adapter crate: `meshroom_sdk::export!(MyAdapter);`
#[macro_export]
macro_rules! export {
    ($adapter:ty) => {
        #[doc(hidden)]
        struct __MeshroomExport;
        impl $crate::__private::Dispatch for __MeshroomExport {
            type Adapter = $adapter;
        }
        $crate::__private::__export_meshroom_adapter!(
            __MeshroomExport with_types_in $crate::__private::bindings
        );
    };
}

#[doc(hidden)]
pub mod __private {
    pub use crate::bindings;
    pub use crate::bindings::__export_meshroom_adapter;
    pub use crate::dispatch::Dispatch;
    pub use wit_bindgen;
}
