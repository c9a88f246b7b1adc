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
use pool::AccountPool;
use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};

/// Attempts per folder before a transient failure counts as the folder's failure.
pub(crate) const ATTEMPTS: u32 = 3;

/// One folder job of one channel.
pub struct Job<'a> {
    pub task: FolderTask,
    pub pool: &'a AccountPool,
    pub ctx: &'a FolderContext<'a>,
}

/// Runs folder jobs on up to `threads` threads while `feed` (run on this thread) hands
/// them over, one by one as they become known: a job starts as soon as a thread is free,
/// without waiting for the others to be found. Returns (channel, report) per job.
pub fn run_jobs<'a>(
    threads: usize,
    feed: impl FnOnce(&mut dyn FnMut(Job<'a>)),
) -> Vec<(String, FolderReport)> {
    let _bars = progress::start(progress::wanted(log::verbosity()));
    run_fed(
        threads,
        |start| {
            feed(&mut |job| {
                progress::more_folders(1);
                start(job);
            })
        },
        |job| (job.task.channel.clone(), run_job(&job)),
    )
}

/// The items waiting for a thread, and whether more may still come.
struct Queue<T> {
    items: VecDeque<T>,
    feeding: bool,
}

/// Runs `work` on each item `feed` (run on this thread) hands over, on up to `threads`
/// threads, each item as soon as a thread is free; returns the results in the order
/// they were done.
fn run_fed<T: Send, R: Send>(
    threads: usize,
    feed: impl FnOnce(&mut dyn FnMut(T)),
    work: impl Fn(T) -> R + Sync,
) -> Vec<R> {
    let queue = Mutex::new(Queue {
        items: VecDeque::new(),
        feeding: true,
    });
    let ready = Condvar::new();
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| {
                while let Some(item) = next_item(&queue, &ready) {
                    let result = work(item);
                    results
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(result);
                }
            });
        }
        // Even if `feed` panics, the threads stop waiting for more (the scope would
        // otherwise wait for them forever).
        let _fed = Fed {
            queue: &queue,
            ready: &ready,
        };
        feed(&mut |item| {
            lock(&queue).items.push_back(item);
            ready.notify_one();
        });
    });
    results.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// Tells the threads, when dropped, that no more items will come.
struct Fed<'q, T> {
    queue: &'q Mutex<Queue<T>>,
    ready: &'q Condvar,
}

impl<T> Drop for Fed<'_, T> {
    fn drop(&mut self) {
        lock(self.queue).feeding = false;
        self.ready.notify_all();
    }
}

fn lock<T>(queue: &Mutex<Queue<T>>) -> std::sync::MutexGuard<'_, Queue<T>> {
    queue.lock().unwrap_or_else(|e| e.into_inner())
}

/// The next item, waiting while none is queued but more may come; `None` when all are
/// handed out.
fn next_item<T>(queue: &Mutex<Queue<T>>, ready: &Condvar) -> Option<T> {
    let mut waiting = lock(queue);
    loop {
        if let Some(item) = waiting.items.pop_front() {
            return Some(item);
        }
        if !waiting.feeding {
            return None;
        }
        waiting = ready.wait(waiting).unwrap_or_else(|e| e.into_inner());
    }
}

/// Whether a failure came from the network and a fresh connection may get through.
pub(crate) fn is_transient(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|e| e.downcast_ref::<FarError>())
        .any(|e| e.kind == FarErrorKind::Transient)
}

/// One folder with retries; the report holds every step done over all attempts.
fn run_job(job: &Job<'_>) -> FolderReport {
    let task = &job.task;
    let _bar = progress::folder(&format!("{}:{}", task.channel, task.far));
    let mut done: Vec<Step> = Vec::new();
    let mut far_changed = false;
    let mut attempt = 0;
    let error = loop {
        attempt += 1;
        let outcome = run_once(job, &mut done, &mut far_changed);
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
    report.far_changed = far_changed;
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

/// One attempt at a folder, on a connection of the pool, leased only if the folder
/// changed. Sets `far_changed` once the far folder is found changed since the last run.
fn run_once(job: &Job<'_>, done: &mut Vec<Step>, far_changed: &mut bool) -> anyhow::Result<()> {
    let task = &job.task;
    let read = match snapshot::unchanged(&MaildirFolder::new(task.near_dir.clone()), task, job.ctx)?
    {
        snapshot::Look::Unchanged => {
            log::folder(&format!(
                "{}: {}: unchanged on both sides since the last run",
                task.channel, task.far
            ));
            return Ok(());
        }
        snapshot::Look::Changed(read) => read.map(|state| *state),
    };
    let mut lease = job.pool.lease()?;
    let result = (|| {
        let session = lease.session();
        let near = MaildirFolder::new(task.near_dir.clone());
        if task.remove {
            return folder::remove_folder(session, &near, task, job.ctx, done);
        }
        let prepared = folder::prepare(session, &near, task, job.ctx, read)?;
        *far_changed |= prepared.far_changed();
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn an_item_is_worked_on_before_the_next_is_fed() {
        // The feeder waits for the first item's work before handing over the second: a
        // runner that waited for all items before starting would never get there.
        let (done_tx, done_rx) = mpsc::channel();
        let done_tx = Mutex::new(done_tx);
        let mut results = run_fed(
            2,
            |start| {
                start(1);
                let first = done_rx.recv_timeout(Duration::from_secs(30));
                assert_eq!(first, Ok(1), "the first item was not worked on");
                start(2);
            },
            |item: u32| {
                let _ = done_tx.lock().unwrap().send(item);
                item * 10
            },
        );
        results.sort_unstable();
        assert_eq!(results, vec![10, 20]);
    }

    #[test]
    fn every_item_is_worked_on_once_even_with_one_thread() {
        let mut results = run_fed(
            1,
            |start| {
                for item in 0..50u32 {
                    start(item);
                }
            },
            |item| item,
        );
        results.sort_unstable();
        assert_eq!(results, (0..50).collect::<Vec<_>>());
    }
}
