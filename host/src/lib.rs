//! meshroom: build and run Cybersecurity Mesh Architectures.
//!
//! The library behind the `meshroom` binary: the command line ([`cli`]), the
//! engine that plans and runs hooks across the mesh ([`engine`]) and the
//! secrets store ([`secrets`]). The project model and the adapter runtime
//! are crates of their own (`meshroom-project`, `meshroom-runtime`),
//! re-exported here as [`project`] and [`runtime`]. Data flows one way:
//! [`cli`] parses → [`project`] (the on-disk model, pure, no I/O beyond the
//! project folder) → [`engine`] plans → [`runtime`] calls adapter hooks →
//! [`engine`] records outcomes → [`project`] saves.

pub mod cli;
pub mod engine;
pub mod secrets;
pub mod ui;

pub use meshroom_fsutil as fsutil;
pub use meshroom_project as project;
pub use meshroom_runtime as runtime;
