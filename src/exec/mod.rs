//! Running folder jobs: up to `jobs` at once on scoped threads, each on a connection
//! leased from its account's pool; transient network failures are retried with back-off,
//! and one folder's failure never stops the others.

pub mod folder;
pub mod pool;
pub mod snapshot;
pub mod split;
#[cfg(test)]
mod state_machine;

use crate::log;
use crate::plan::Step;
use crate::progress;
use crate::report::FolderReport;
use crate::store::imap::{FarError, FarErrorKind, backoff};
use crate::store::maildir::MaildirFolder;
use folder::{FolderContext, FolderTask};
use pool::{AccountPool, Lease};
use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::Mutex;

/// Attempts per folder before a transient failure counts as the folder's failure.
pub(crate) const ATTEMPTS: u32 = 3;

/// One folder job of one channel.
pub struct Job<'a> {
    pub task: FolderTask,
    pub pool: &'a AccountPool,
    pub ctx: &'a FolderContext<'a>,
    /// A connection already open for this job (the one that listed the folders, given
    /// to the first and largest job so that it does not wait for a new one).
    pub lease: Option<Lease<'a>>,
}

/// Runs the jobs on up to `threads` threads; returns (channel, report) per job.
pub fn run_jobs(jobs: Vec<Job<'_>>, threads: usize) -> Vec<(String, FolderReport)> {
    let queue = Mutex::new(jobs.into_iter().collect::<VecDeque<_>>());
    let results = Mutex::new(Vec::new());
    let threads = threads.max(1);
    let _bars = progress::start(
        queue.lock().unwrap_or_else(|e| e.into_inner()).len(),
        progress::wanted(log::verbosity()),
    );
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
                    let Some(mut job) = next else { break };
                    let lease = job.lease.take();
                    let report = run_job(&job, lease);
                    results
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((job.task.channel.clone(), report));
                }
            });
        }
    });
    results.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// Whether a failure came from the network and a fresh connection may get through.
pub(crate) fn is_transient(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|e| e.downcast_ref::<FarError>())
        .any(|e| e.kind == FarErrorKind::Transient)
}

/// One folder with retries; the report holds every step done over all attempts.
fn run_job<'a>(job: &Job<'a>, mut lease: Option<Lease<'a>>) -> FolderReport {
    let task = &job.task;
    let _bar = progress::folder(&format!("{}:{}", task.channel, task.far));
    let mut done: Vec<Step> = Vec::new();
    let mut attempt = 0;
    let error = loop {
        attempt += 1;
        let outcome = run_once(job, lease.take(), &mut done);
        match outcome {
            Ok(()) => break None,
            Err(e) if is_transient(&e) && attempt < ATTEMPTS => {
                log::warn(&format!(
                    "{}: {}: {e:#}; retrying ({attempt} of {})",
                    task.channel,
                    task.far,
                    ATTEMPTS - 1
                ));
                std::thread::sleep(backoff(attempt));
            }
            Err(e) => break Some(format!("{e:#}")),
        }
    };
    let mut report = FolderReport::new(&task.far, &task.near);
    report.create = task.create;
    if job.ctx.report_actions {
        report.add_steps(&done);
    } else {
        report.count_steps(&done);
    }
    drop(done);
    if let Some(error) = error {
        log::error(&format!("{}: {}: {error}", task.channel, task.far));
        if !job.ctx.dry_run
            && let Err(e) = job.ctx.state.record_error(&task.far, &task.near, &error)
        {
            log::warn(&format!(
                "{}: {}: cannot record the error in the state: {e:#}",
                task.channel, task.far
            ));
        }
        report.status = crate::report::Status::Error;
        report.error = Some(error);
    }
    report
}

/// One attempt at a folder, on `lease` when given (else on a connection of the pool,
/// leased only if the folder changed).
fn run_once<'a>(
    job: &Job<'a>,
    mut lease: Option<Lease<'a>>,
    done: &mut Vec<Step>,
) -> anyhow::Result<()> {
    // The folder's STATUS sent ahead on the listing connection, read now (a retry, on
    // another connection, goes without it and lists the folder).
    let task = match lease.as_mut() {
        // A failure leaves the connection out of step: it is not lent again.
        Some(lease) if job.task.status_ahead => Cow::Owned(FolderTask {
            far_status: lease.session().status_ahead(&job.task.server_name)?,
            status_ahead: false,
            ..job.task.clone()
        }),
        _ => Cow::Borrowed(&job.task),
    };
    let task = task.as_ref();
    if snapshot::unchanged(&MaildirFolder::new(task.near_dir.clone()), task, job.ctx)? {
        log::folder(&format!(
            "{}: {}: unchanged on both sides since the last run",
            task.channel, task.far
        ));
        return Ok(());
    }
    let mut lease = match lease {
        Some(lease) => lease,
        None => job.pool.lease()?,
    };
    let result = (|| {
        let session = lease.session();
        let near = MaildirFolder::new(task.near_dir.clone());
        if task.remove {
            return folder::remove_folder(session, &near, task, job.ctx, done);
        }
        let prepared = folder::prepare(session, &near, task, job.ctx)?;
        log::folder(&format!(
            "{}: {}: {} far, {} near, {} steps planned",
            task.channel,
            task.far,
            prepared.far_listing.messages.len(),
            prepared.near_listing.messages.len(),
            prepared.plan.steps.len()
        ));
        progress::planned(
            prepared
                .plan
                .steps
                .iter()
                .filter(|s| {
                    !matches!(
                        s,
                        Step::Pair { .. } | Step::Forget { .. } | Step::SetBase { .. }
                    )
                })
                .count(),
        );
        if job.ctx.dry_run {
            let held = folder::held_back_error(&prepared.plan);
            done.extend(prepared.plan.steps);
            return held.map_or(Ok(()), Err);
        }
        folder::execute(
            session,
            Some(job.pool),
            &near,
            task,
            job.ctx,
            prepared,
            done,
        )
    })();
    if let Err(e) = &result
        && is_transient(e)
    {
        lease.discard();
    }
    result
}
