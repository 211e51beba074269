//! One run at a time per (output root, staging step): a lease object,
//! `staging/_lease/<step>.json`, created with a conditional put, renewed while the run
//! works, and taken over only once it has expired (a killed run's lease lapses by itself).
//!
//! Two staging runs on one table (an Airflow retry overlapping a slow attempt, a backfill
//! by hand) would each rewrite partitions from their own view and could drop each other's
//! rows; the second one now exits 1 naming the holder instead.

use crate::lake::Lake;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// What the lease object holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Holder {
    /// Unique to this process and run (two attempts with the same run id differ).
    token: String,
    run_id: String,
    host: String,
    pid: u32,
    /// Milliseconds since the Unix epoch, UTC.
    expires_at_ms: i64,
}

pub struct Lease {
    lake: Lake,
    key: String,
    token: String,
    shared: Arc<Shared>,
    renewer: Option<JoinHandle<()>>,
    released: bool,
}

struct Shared {
    stop: AtomicBool,
    /// Set by the renewer when another run holds the lease or renewing kept failing.
    lost: Mutex<Option<String>>,
}

pub fn key(step: &str) -> String {
    format!("staging/_lease/{step}.json")
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn show_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| ms.to_string())
}

impl Lease {
    /// Takes the lease or fails naming the run that holds it.
    pub fn acquire(lake: &Lake, step: &str, run_id: &str, ttl: Duration) -> Result<Lease> {
        let key = key(step);
        let token = format!(
            "{run_id}/{}/{}",
            std::process::id(),
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        );
        let holder = Holder {
            token: token.clone(),
            run_id: run_id.to_string(),
            host: hostname(),
            pid: std::process::id(),
            expires_at_ms: now_ms() + ttl.as_millis() as i64,
        };
        let body = serde_json::to_vec(&holder)?;
        for _ in 0..3 {
            if lake.put_new(&key, body.clone())? {
                return Ok(Lease::start(lake, key, token, holder, ttl));
            }
            let Some((bytes, version)) = lake.get_versioned(&key)? else {
                continue; // released between our put and our read: try again
            };
            match serde_json::from_slice::<Holder>(&bytes) {
                Ok(other) if other.expires_at_ms > now_ms() => bail!(
                    "{step} is already running on this output root: run {} (pid {} on {}) holds \
                     {} until {}. Wait for it to finish; if that run died, its lease lapses \
                     by itself at that time.",
                    other.run_id,
                    other.pid,
                    other.host,
                    lake.describe(&key),
                    show_time(other.expires_at_ms)
                ),
                Ok(other) => tracing::warn!(
                    run = %other.run_id, expired = %show_time(other.expires_at_ms),
                    "Taking over the lease of a run that stopped renewing it."
                ),
                Err(_) => {
                    tracing::warn!(lease = %lake.describe(&key), "Replacing an unreadable lease.")
                }
            }
            if lake.put_replacing(&key, body.clone(), &version)? {
                return Ok(Lease::start(lake, key, token, holder, ttl));
            }
        }
        bail!(
            "could not take {} (other runs keep taking it); try again later",
            lake.describe(&key)
        )
    }

    fn start(lake: &Lake, key: String, token: String, holder: Holder, ttl: Duration) -> Lease {
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            lost: Mutex::new(None),
        });
        let renewer = {
            let (lake, key, shared) = (lake.clone(), key.clone(), shared.clone());
            std::thread::Builder::new()
                .name("igpipe-lease".into())
                .spawn(move || renew_until_stopped(&lake, &key, holder, ttl, &shared))
                .ok()
        };
        Lease {
            lake: lake.clone(),
            key,
            token,
            shared,
            renewer,
            released: false,
        }
    }

    /// Fails if the renewer found the lease taken or could not renew it (no request: for
    /// the checks between partition writes).
    pub fn ensure_not_lost(&self) -> Result<()> {
        match self.shared.lost.lock().expect("lease state").clone() {
            Some(why) => bail!("{why}; nothing more of this run was written, re-run it"),
            None => Ok(()),
        }
    }

    /// Fails if this run no longer holds the lease, reading it from the store; called
    /// before the table is first written and before the manifest is committed.
    pub fn check(&self) -> Result<()> {
        self.ensure_not_lost()?;
        let current = self
            .lake
            .get_opt(&self.key)?
            .and_then(|bytes| serde_json::from_slice::<Holder>(&bytes).ok());
        match current {
            Some(h) if h.token == self.token => Ok(()),
            Some(h) => bail!(
                "run {} took over {} while this run was working; nothing more of this run \
                 was written, re-run it",
                h.run_id,
                self.lake.describe(&self.key)
            ),
            None => bail!(
                "{} was removed while this run was working; nothing more of this run was \
                 written, re-run it",
                self.lake.describe(&self.key)
            ),
        }
    }

    /// Stops renewing and deletes the lease if it is still ours.
    pub fn release(mut self) -> Result<()> {
        self.give_back().context("releasing the staging lease")
    }

    /// Stops the renewer and deletes the lease if it is still ours; once.
    fn give_back(&mut self) -> Result<()> {
        if std::mem::replace(&mut self.released, true) {
            return Ok(());
        }
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = self.renewer.take() {
            let _ = handle.join();
        }
        if self.check().is_ok() {
            self.lake.delete(&self.key)?;
        }
        Ok(())
    }
}

impl Drop for Lease {
    /// A run that fails deletes its lease, so a retry need not wait; only a killed run
    /// leaves one behind, for at most its TTL.
    fn drop(&mut self) {
        let _ = self.give_back();
    }
}

/// Every third of the TTL: re-read the lease, and if it is still ours, push its expiry on.
fn renew_until_stopped(lake: &Lake, key: &str, mut holder: Holder, ttl: Duration, shared: &Shared) {
    let every = (ttl / 3).max(Duration::from_millis(200));
    let mut last_renewal = std::time::Instant::now();
    while !shared.stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(50));
        if last_renewal.elapsed() < every {
            continue;
        }
        last_renewal = std::time::Instant::now();
        let lost = match renew_once(lake, key, &mut holder, ttl) {
            Ok(None) => continue,
            Ok(Some(why)) => why,
            Err(error) if holder.expires_at_ms > now_ms() => {
                tracing::warn!("Could not renew the staging lease (will retry): {error:#}");
                continue;
            }
            Err(error) => format!("the staging lease expired: renewing it failed ({error:#})"),
        };
        *shared.lost.lock().expect("lease state") = Some(lost);
        return;
    }
}

/// `Ok(Some(why))`: the lease is no longer ours.
fn renew_once(
    lake: &Lake,
    key: &str,
    holder: &mut Holder,
    ttl: Duration,
) -> Result<Option<String>> {
    let Some((bytes, version)) = lake.get_versioned(key)? else {
        return Ok(Some(format!("{} was removed", lake.describe(key))));
    };
    let current: Option<Holder> = serde_json::from_slice(&bytes).ok();
    if current.as_ref().map(|h| &h.token) != Some(&holder.token) {
        let by = current.map_or("an unknown run".into(), |h| format!("run {}", h.run_id));
        return Ok(Some(format!("{by} took over {}", lake.describe(key))));
    }
    holder.expires_at_ms = now_ms() + ttl.as_millis() as i64;
    if lake.put_replacing(key, serde_json::to_vec(holder)?, &version)? {
        Ok(None)
    } else {
        Ok(Some(format!("another run replaced {}", lake.describe(key))))
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}
