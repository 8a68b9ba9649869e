//! TODO

pub mod exercise;
pub mod files;
pub mod vendor;
