//! igpipe: a batch pipeline from an Instagram Graph API data lake to a creator fact table.
//!
//! The binary (`src/main.rs`) is glue; each step lives in `commands/`, the raw-JSON rules in
//! `normalize/`, table layouts in `contracts/`, and every byte that crosses the lake goes
//! through `lake/`.

pub mod cli;
pub mod commands;
pub mod contracts;
pub mod facts;
pub mod lake;
pub mod media;
pub mod metrics;
pub mod normalize;
pub mod page;
pub mod palette;
pub mod quality;
pub mod redact;
pub mod report;
pub mod run_log;
pub mod settings;
pub mod sharding;
pub mod staging;
pub mod tables;
pub mod telemetry;
pub mod warehouse;
