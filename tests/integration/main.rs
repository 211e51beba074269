//! igpipe's integration tests: the real binary on real lakes.
//!
//! `local` runs every scenario on a temporary folder. With the feature `service-tests`
//! (`scripts/test.sh` starts the services first): `s3` runs the same scenarios on moto's S3
//! server and on s3s-fs, `postgres` loads the fact table into a throw-away PostgreSQL
//! cluster, and `redshift` loads it through the Redshift Data API test double.

#[cfg(feature = "service-tests")]
mod airflow;
mod chain;
mod cli;
mod dags;
mod facts;
mod frames;
mod harness;
mod local;
mod media;
mod palettes;
#[cfg(feature = "service-tests")]
mod postgres;
#[cfg(feature = "service-tests")]
mod redshift;
#[cfg(feature = "service-tests")]
mod report;
#[cfg(feature = "service-tests")]
mod s3;
mod scenarios;
mod trust;
