//! Progress bars on stderr while folders sync: one bar per running folder (messages done
//! of planned, bytes moved and their rate) under one overall bar (folders done, bytes,
//! elapsed time). Drawn only when stderr is a terminal and the run is not `-q`; otherwise
//! nothing here prints anything, so piped output holds log lines only. Log lines printed
//! while bars are drawn go above them ([`emit`]), never through them.

use indicatif::{HumanBytes, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::cell::RefCell;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// The bars of the running `sync`, when drawn.
struct Bars {
    multi: MultiProgress,
    overall: ProgressBar,
    /// Bytes moved by every folder so far.
    bytes: AtomicU64,
    started: Instant,
}

static ACTIVE: Mutex<Option<Arc<Bars>>> = Mutex::new(None);

thread_local! {
    /// The bar of the folder this thread is syncing.
    static CURRENT: RefCell<Option<FolderBar>> = const { RefCell::new(None) };
}

fn active() -> MutexGuard<'static, Option<Arc<Bars>>> {
    ACTIVE.lock().unwrap_or_else(|e| e.into_inner())
}

fn current_bars() -> Option<Arc<Bars>> {
    active().clone()
}

/// `n` bytes as "1.2 MiB (300 KiB/s)" over the time since `since`.
fn bytes_and_rate(n: u64, since: Instant) -> String {
    let secs = since.elapsed().as_secs_f64();
    let rate = if secs > 0.0 {
        (n as f64 / secs) as u64
    } else {
        0
    };
    format!("{} ({}/s)", HumanBytes(n), HumanBytes(rate))
}

/// Whether bars are drawn for a run at this verbosity: only on a terminal, never with -q.
pub fn wanted(verbosity: i8) -> bool {
    verbosity >= 0 && std::io::stderr().is_terminal()
}

/// Draws bars until the guard is dropped, when `wanted` (see [`wanted`]).
pub struct Guard {
    bars: Option<Arc<Bars>>,
}

/// Starts the overall bar, if bars are wanted; folder jobs are added to it as they
/// become known ([`more_folders`]).
pub fn start(wanted: bool) -> Guard {
    if !wanted {
        return Guard { bars: None };
    }
    let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
    let overall = multi.add(ProgressBar::new(0));
    overall.set_style(
        ProgressStyle::with_template(
            "{prefix:>24} [{bar:30}] {pos}/{len} folders  {msg}  {elapsed_precise}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    overall.set_prefix("all");
    // Redrawn now and then even while no message completes, so the clock moves.
    overall.enable_steady_tick(std::time::Duration::from_millis(500));
    let bars = Arc::new(Bars {
        multi,
        overall,
        bytes: AtomicU64::new(0),
        started: Instant::now(),
    });
    bars.overall.set_message(bytes_and_rate(0, bars.started));
    *active() = Some(Arc::clone(&bars));
    Guard { bars: Some(bars) }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(bars) = self.bars.take() {
            *active() = None;
            bars.overall.finish_and_clear();
            let _ = bars.multi.clear();
        }
    }
}

/// Adds `folders` folder jobs to the overall bar, as they become known.
pub fn more_folders(folders: u64) {
    if let Some(bars) = current_bars() {
        bars.overall.inc_length(folders);
    }
}

/// Prints a log line on stderr: above the bars while they are drawn.
pub fn emit(line: &str) {
    match current_bars() {
        Some(bars) => bars.multi.suspend(|| eprintln!("{line}")),
        None => eprintln!("{line}"),
    }
}

/// The bar of one running folder.
struct FolderBar {
    bar: ProgressBar,
    bytes: u64,
    started: Instant,
}

/// Shows a bar for `label` (channel:folder) while the returned guard lives on this
/// thread; [`planned`] and [`message_done`] update it.
pub fn folder(label: &str) -> FolderGuard {
    if let Some(bars) = current_bars() {
        let bar = bars
            .multi
            .insert_before(&bars.overall, ProgressBar::no_length());
        bar.set_style(
            ProgressStyle::with_template("{prefix:>24} [{bar:30}] {pos}/{len} messages  {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix(clip_label(label));
        bar.set_message("listing");
        CURRENT.with(|c| {
            *c.borrow_mut() = Some(FolderBar {
                bar,
                bytes: 0,
                started: Instant::now(),
            });
        });
    }
    FolderGuard { _private: () }
}

/// The label cut to its last 24 characters (the end of a folder name says most).
fn clip_label(label: &str) -> String {
    let count = label.chars().count();
    if count <= 24 {
        return label.to_string();
    }
    let tail: String = label.chars().skip(count - 23).collect();
    format!("…{tail}")
}

/// Removes this thread's folder bar when dropped, counting the folder as done.
pub struct FolderGuard {
    _private: (),
}

impl Drop for FolderGuard {
    fn drop(&mut self) {
        if let Some(folder) = CURRENT.with(|c| c.borrow_mut().take()) {
            folder.bar.finish_and_clear();
            if let Some(bars) = current_bars() {
                bars.multi.remove(&folder.bar);
                bars.overall.inc(1);
            }
        }
    }
}

/// This thread's folder plans `messages` message actions.
pub fn planned(messages: usize) {
    CURRENT.with(|c| {
        if let Some(folder) = c.borrow().as_ref() {
            folder.bar.set_length(messages as u64);
            folder.bar.set_position(0);
            folder
                .bar
                .set_message(bytes_and_rate(folder.bytes, folder.started));
        }
    });
}

/// This thread's folder finished one message action that moved `bytes` bytes.
pub fn message_done(bytes: u64) {
    CURRENT.with(|c| {
        if let Some(folder) = c.borrow_mut().as_mut() {
            folder.bytes += bytes;
            folder.bar.inc(1);
            folder
                .bar
                .set_message(bytes_and_rate(folder.bytes, folder.started));
            if bytes > 0
                && let Some(bars) = current_bars()
            {
                let total = bars.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
                bars.overall
                    .set_message(bytes_and_rate(total, bars.started));
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_bars_the_calls_do_nothing() {
        let guard = start(false);
        assert!(guard.bars.is_none());
        more_folders(3);
        let folder_guard = folder("c:INBOX");
        planned(4);
        message_done(100);
        assert!(CURRENT.with(|c| c.borrow().is_none()));
        drop(folder_guard);
    }

    #[test]
    fn labels_keep_their_end() {
        assert_eq!(clip_label("c:INBOX"), "c:INBOX");
        let long = "personal:Archive/2021/Projects/Old";
        let clipped = clip_label(long);
        assert_eq!(clipped.chars().count(), 24);
        assert!(clipped.ends_with("Projects/Old"), "{clipped}");
    }

    #[test]
    fn rates_are_human() {
        let text = bytes_and_rate(2048, Instant::now());
        assert!(text.starts_with("2.00 KiB ("), "{text}");
        assert!(text.ends_with("/s)"), "{text}");
    }
}
