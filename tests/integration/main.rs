//! igpipe's integration tests: the real binary on real lakes.
//!
//! `local` runs every scenario on a temporary folder; `s3` (feature `s3-tests`, started by
//! `scripts/test.sh`) runs the same scenarios on moto's S3 server and on s3s-fs.

mod cli;
mod dags;
mod facts;
mod frames;
mod harness;
mod local;
#[cfg(feature = "s3-tests")]
mod s3;
mod scenarios;
