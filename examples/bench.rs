//! Benchmark: mailferry against mbsync (isync) on the same mail, side by side.
//!
//! `scripts/bench [--size small|medium|large|inbox] [--rtt-ms 50] [--runs 3]` installs mbsync
//! and GNU time when missing, builds mailferry with `--release` and runs this example:
//! `cargo run --release --example bench -- --mailferry target/release/mailferry [...]`.
//!
//! It starts a private Dovecot (implicit TLS, the test certificate, name `localhost`) with
//! two users seeded with the same deterministic corpus (see `bench/corpus.rs`), one per
//! tool, and gives each tool its own maildir and state. Then, for each scenario (initial
//! sync into an empty maildir, no-op re-sync, re-sync after a day of server changes,
//! re-sync after a day of local changes) and each of `--runs` repetitions, it runs the two
//! tools in alternation (the order flips every repetition), each under `/usr/bin/time -v`
//! (and with Dovecot's own processor time for the run measured, `bench/server_cpu.rs`),
//! and after every run checks both sides of that tool against the model of what they must
//! hold (content key and flags of every message, folder by folder): a run that skipped,
//! lost, duplicated or mis-flagged mail fails the benchmark (exit 1) naming what differs.
//! After each repetition of the initial sync it also times `cp -r` of mailferry's fresh
//! maildir followed by `sync`: the floor for writing that mail durably; and a download of
//! every body over TLS on mailferry's default four connections, with nothing written (see
//! `bench/download.rs`): the floor the server sets.
//! Finally it prints a table per scenario: medians of wall time, user+system CPU, Dovecot's
//! CPU for the run and peak RSS for each tool, and mailferry/mbsync ratios. `--rtt-ms N`
//! puts a delay proxy (N/2 ms each way, per chunk, so pipelining still pays) between each
//! tool and the server.

#[allow(dead_code)] // the benchmark uses only part of the test harness
#[path = "../tests/support/compare.rs"]
mod compare;
#[allow(dead_code)]
#[path = "../tests/support/dovecot.rs"]
mod dovecot;
#[path = "../tests/support/mailtext.rs"]
mod mailtext;

#[path = "bench/changes.rs"]
mod changes;
#[path = "bench/corpus.rs"]
mod corpus;
#[path = "bench/delay.rs"]
mod delay;
#[path = "bench/download.rs"]
mod download;
#[path = "bench/seed.rs"]
mod seed;
#[path = "bench/server_cpu.rs"]
mod server_cpu;
#[path = "bench/tools.rs"]
mod tools;
#[path = "bench/view.rs"]
mod view;

use anyhow::{Context, Result, bail};
use changes::{LocalDay, ServerDay};
use corpus::Size;
use dovecot::{Dovecot, DovecotOptions};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use tools::{Kind, Measure, Tool};
use view::{FarView, Model, NearView};

const USAGE: &str = "usage: cargo run --release --example bench -- --mailferry PATH \
[--mbsync PATH] [--size small|medium|large|inbox] [--rtt-ms N] [--runs N] \
[--scenarios initial,noop,server,local] [--settle-ms N] [--work DIR] [--hold] [--trace]";

/// Default pause between a run's changes (and a `sync` of the disk) and the run.
const SETTLE_MS: u64 = 300;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: FAILED: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scenario {
    Initial,
    Noop,
    Server,
    Local,
}

impl Scenario {
    const ALL: [Scenario; 4] = [
        Scenario::Initial,
        Scenario::Noop,
        Scenario::Server,
        Scenario::Local,
    ];

    fn id(self) -> &'static str {
        match self {
            Scenario::Initial => "initial",
            Scenario::Noop => "noop",
            Scenario::Server => "server",
            Scenario::Local => "local",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Scenario::Initial => "initial sync (empty maildir)",
            Scenario::Noop => "no-op re-sync",
            Scenario::Server => "re-sync after a day of server changes",
            Scenario::Local => "re-sync after local changes",
        }
    }
}

struct Options {
    mailferry: PathBuf,
    mbsync: PathBuf,
    size: Size,
    rtt_ms: u64,
    runs: usize,
    scenarios: Vec<Scenario>,
    work: PathBuf,
    /// Keep Dovecot up after the scenarios, for experiments by hand.
    hold: bool,
    trace: bool,
    /// Pause between preparing a run (a day of changes, say) and starting it.
    settle: Duration,
}

fn parse_options() -> Result<Options> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut mailferry = None;
    let mut mbsync = PathBuf::from("mbsync");
    let mut size = Size::Small;
    let mut rtt_ms = 0;
    let mut runs = 3;
    let mut scenarios = Scenario::ALL.to_vec();
    let mut work = None;
    let mut hold = false;
    let mut trace = false;
    let mut settle_ms = SETTLE_MS;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .with_context(|| format!("{arg} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--mailferry" => mailferry = Some(PathBuf::from(value()?)),
            "--mbsync" => mbsync = PathBuf::from(value()?),
            "--size" => {
                let v = value()?;
                size = Size::parse(&v)
                    .with_context(|| format!("--size {v:?}: small, medium, large or inbox"))?;
            }
            "--rtt-ms" => rtt_ms = value()?.parse().context("--rtt-ms: a whole number")?,
            "--runs" => {
                runs = value()?.parse().context("--runs: a whole number")?;
                if !(1..=100).contains(&runs) {
                    bail!("--runs: 1 to 100");
                }
            }
            "--scenarios" => {
                let v = value()?;
                scenarios = Vec::new();
                for id in v.split(',') {
                    let s = Scenario::ALL
                        .into_iter()
                        .find(|s| s.id() == id)
                        .with_context(|| format!("--scenarios: unknown {id:?}\n{USAGE}"))?;
                    scenarios.push(s);
                }
                scenarios.sort_by_key(|s| Scenario::ALL.iter().position(|a| a == s));
                scenarios.dedup();
            }
            "--work" => work = Some(PathBuf::from(value()?)),
            "--hold" => hold = true,
            "--trace" => trace = true,
            "--settle-ms" => settle_ms = value()?.parse().context("--settle-ms: a whole number")?,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    let mailferry = mailferry.context(USAGE)?;
    let mailferry = fs::canonicalize(&mailferry)
        .with_context(|| format!("mailferry binary {}", mailferry.display()))?;
    let work = work.unwrap_or_else(|| repo.join("target").join("bench").join(size.name()));
    Ok(Options {
        mailferry,
        mbsync: find_program(&mbsync)?,
        size,
        rtt_ms,
        runs,
        scenarios,
        work,
        hold,
        trace,
        settle: Duration::from_millis(settle_ms),
    })
}

/// A program on PATH (or a path to one).
fn find_program(p: &Path) -> Result<PathBuf> {
    if p.components().count() > 1 {
        return Ok(p.to_path_buf());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        if dir.join(p).is_file() {
            return Ok(dir.join(p));
        }
    }
    bail!(
        "`{}` is not installed (apt-get install -y isync, as scripts/bench does)",
        p.display()
    )
}

/// The machine, for the report: CPU count and model.
fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cpus} CPUs (nproc), {model}")
}

/// Per tool: what its two sides held at the last check.
struct Sides {
    far: FarView,
    near: NearView,
}

/// Results: per scenario, per tool (mailferry, mbsync), every run.
/// What one scenario measured.
struct Outcome {
    scenario: Scenario,
    /// What the last day changed (server and local changes), else empty.
    detail: String,
    /// Per tool (mailferry, mbsync), every run.
    runs: [Vec<Measure>; 2],
    /// Initial sync only: each `cp -r` + `sync` of the same mail.
    copies: Vec<Copy>,
    /// Initial sync only: each download of the same mail with nothing written.
    downloads: Vec<download::Download>,
}

type Results = Vec<Outcome>;

fn run() -> Result<()> {
    let opts = parse_options()?;
    if !Path::new("/usr/bin/time").is_file() {
        bail!("/usr/bin/time is not installed (apt-get install -y time, as scripts/bench does)");
    }
    let mbsync_version = std::process::Command::new(&opts.mbsync)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    // The last benchmark's files are moved out of the way now and removed at the end,
    // not before the runs (see tools::set_aside).
    let previous = opts.work.with_extension("previous");
    if opts.work.exists() {
        if previous.exists() {
            fs::remove_dir_all(&previous)
                .with_context(|| format!("removing {}", previous.display()))?;
        }
        fs::rename(&opts.work, &previous)
            .with_context(|| format!("moving {} to {}", opts.work.display(), previous.display()))?;
    }
    fs::create_dir_all(&opts.work)?;

    let started = Instant::now();
    eprintln!("bench: starting Dovecot");
    let server = Dovecot::start(DovecotOptions::default())?;
    let users = ["ferry", "isync"];
    for u in users {
        server.add_user(u)?;
    }
    eprintln!("bench: writing the {} corpus", opts.size.name());
    let seeded = seed::seed(&server, &users, opts.size)?;
    let mut model = seeded.model;
    let total = view::count(&model);
    eprintln!(
        "bench: {total} messages in {} folders, {:.1} MB (largest {:.1} MB), in {:.1} s; \
         indexing and checking the server",
        seeded.folders,
        seeded.bytes as f64 / 1e6,
        seeded.largest as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    let mut sides = Vec::new();
    for u in users {
        let far = view::far_view(&server, u)?;
        view::check(&format!("the server ({u}) after seeding"), &far, &model)
            .context("the benchmark's own seeding is wrong")?;
        sides.push(Sides {
            far,
            near: NearView::new(),
        });
    }

    let proxy = if opts.rtt_ms > 0 {
        let one_way = Duration::from_micros(opts.rtt_ms * 500);
        Some(delay::DelayProxy::start(server.imaps_port(), one_way)?)
    } else {
        None
    };
    let port = proxy
        .as_ref()
        .map_or(server.imaps_port(), delay::DelayProxy::port);
    let tools = [
        Tool {
            kind: Kind::Mailferry,
            binary: opts.mailferry.clone(),
            user: users[0].into(),
            dir: opts.work.join("mailferry"),
            trace: opts.trace,
        },
        Tool {
            kind: Kind::Mbsync,
            binary: opts.mbsync.clone(),
            user: users[1].into(),
            dir: opts.work.join("mbsync"),
            trace: false,
        },
    ];
    for t in &tools {
        t.write_config(&server, port)?;
    }
    // After deleting a maildir: long enough for the disk's discards to pass.
    let wipe_pause = Duration::from_millis(1000 + (seeded.bytes / 100_000).min(9000));

    let header = format!(
        "size {} ({total} messages, {} folders, {:.0} MB), round trip {} ms, runs start {} ms \
         after their changes, median of {} run(s); {}; mailferry {}, {mbsync_version}",
        opts.size.name(),
        seeded.folders,
        seeded.bytes as f64 / 1e6,
        opts.rtt_ms,
        opts.settle.as_millis(),
        opts.runs,
        machine(),
        env!("CARGO_PKG_VERSION"),
    );
    let mut results: Results = Vec::new();
    let mut ctx = Ctx {
        server: &server,
        tools: &tools,
        sides: &mut sides,
        wipe_pause,
        settle: opts.settle,
        port,
    };
    if !opts.scenarios.contains(&Scenario::Initial) {
        eprintln!("bench: first syncs (not measured)");
        for ti in 0..2 {
            ctx.one_run(ti, "warm-up", &model, |tool, _| tool.wipe())?;
        }
    }
    let outcome = run_scenarios(&opts, &mut ctx, &mut model, &mut results);
    if opts.hold {
        hold_server(&opts.work)?;
    }
    drop(proxy);
    let report = report(&header, &results);
    println!("{report}");
    fs::write(opts.work.join("report.md"), &report)?;
    // Nothing is measured any more: what the repetitions set aside can go.
    for dir in [tools::set_aside_dir(&opts.work), previous] {
        if dir.exists() {
            fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        }
    }
    outcome?;
    eprintln!(
        "bench: done in {:.0} s; report also in {}",
        started.elapsed().as_secs_f64(),
        opts.work.join("report.md").display()
    );
    Ok(())
}

/// `--hold`: keeps Dovecot (and the tools' maildirs and configs) up for experiments by
/// hand until the file `WORK/hold` is removed.
fn hold_server(work: &Path) -> Result<()> {
    let flag = work.join("hold");
    fs::write(&flag, "remove this file to stop the benchmark's Dovecot\n")?;
    eprintln!(
        "bench: holding; configs in {}/*/config.toml; rm {} to stop",
        work.display(),
        flag.display()
    );
    while flag.exists() {
        std::thread::sleep(Duration::from_millis(500));
    }
    Ok(())
}

struct Ctx<'a> {
    server: &'a Dovecot,
    tools: &'a [Tool; 2],
    sides: &'a mut Vec<Sides>,
    wipe_pause: Duration,
    settle: Duration,
    /// Where the tools connect: Dovecot's TLS port, or the delay proxy's.
    port: u16,
}

impl Ctx<'_> {
    /// Prepares (`prepare` gets the tool and its sides), runs one tool, then checks both
    /// of its sides against `expected`.
    fn one_run(
        &mut self,
        ti: usize,
        label: &str,
        expected: &Model,
        prepare: impl FnOnce(&Tool, &Sides) -> Result<()>,
    ) -> Result<Measure> {
        let tool = &self.tools[ti];
        prepare(tool, &self.sides[ti])
            .with_context(|| format!("preparing {} for {label}", tool.name()))?;
        tools::settle(self.settle);
        let watch = server_cpu::start(self.server)?;
        let mut m = tool.run(label)?;
        m.server_cpu = watch.finish()?;
        let far = view::far_view(self.server, &tool.user)?;
        let what = format!("after {}'s {label}", tool.name());
        view::check(&format!("{what}: the server"), &far, expected)?;
        let near = view::near_view(&tool.maildir(), tool.mutf7())?;
        view::check(&format!("{what}: the maildir"), &near, expected)?;
        self.sides[ti] = Sides { far, near };
        eprintln!(
            "bench: {:<9} {label:<12} wall {:>7.2} s  cpu {:>7.2} s  server cpu {:>7.2} s  rss {:>7.1} MiB  (checked)",
            tool.name(),
            m.wall,
            m.cpu,
            m.server_cpu,
            m.rss_kb as f64 / 1024.0
        );
        Ok(m)
    }
}

fn run_scenarios(
    opts: &Options,
    ctx: &mut Ctx,
    model: &mut Model,
    results: &mut Results,
) -> Result<()> {
    for &scenario in &opts.scenarios {
        eprintln!("bench: scenario {}", scenario.title());
        let mut runs: [Vec<Measure>; 2] = [Vec::new(), Vec::new()];
        let mut copies = Vec::new();
        let mut downloads = Vec::new();
        let mut failure = None;
        let mut detail = String::new();
        for rep in 0..opts.runs {
            let label = format!("{}-{}", scenario.id(), rep + 1);
            // The order flips each repetition, so neither tool always goes first.
            let order = if rep % 2 == 0 { [0, 1] } else { [1, 0] };
            let outcome = match scenario {
                Scenario::Initial | Scenario::Noop => {
                    let mut out = Ok(());
                    for ti in order {
                        let pause = ctx.wipe_pause;
                        let m = ctx.one_run(ti, &label, model, |tool, _| {
                            if scenario == Scenario::Initial {
                                tool.wipe()?;
                                tools::settle(pause);
                            }
                            Ok(())
                        });
                        match m {
                            Ok(m) => runs[ti].push(m),
                            Err(e) => {
                                out = Err(e);
                                break;
                            }
                        }
                    }
                    if out.is_ok() && scenario == Scenario::Initial {
                        out = copy_baseline(&ctx.tools[0].maildir(), &opts.work, ctx.wipe_pause)
                            .map(|c| copies.push(c));
                    }
                    if out.is_ok() && scenario == Scenario::Initial {
                        out = download_baseline(ctx, view::count(model)).map(|d| downloads.push(d));
                    }
                    out
                }
                Scenario::Server => {
                    let (day, next) = ServerDay::plan(model, rep);
                    detail = day.summary();
                    let mut out = Ok(());
                    for ti in order {
                        let server = ctx.server;
                        let m = ctx.one_run(ti, &label, &next, |tool, sides| {
                            day.apply(server, &tool.user, &sides.far)
                        });
                        match m {
                            Ok(m) => runs[ti].push(m),
                            Err(e) => {
                                out = Err(e);
                                break;
                            }
                        }
                    }
                    *model = next;
                    out
                }
                Scenario::Local => {
                    let (day, next) = LocalDay::plan(model, rep);
                    detail = day.summary();
                    let mut out = Ok(());
                    for ti in order {
                        let m = ctx.one_run(ti, &label, &next, |tool, sides| {
                            day.apply(&tool.maildir(), tool.mutf7(), &sides.near, rep)
                        });
                        match m {
                            Ok(m) => runs[ti].push(m),
                            Err(e) => {
                                out = Err(e);
                                break;
                            }
                        }
                    }
                    *model = next;
                    out
                }
            };
            if let Err(e) = outcome {
                failure = Some(e);
                break;
            }
        }
        // A failed scenario's runs so far are reported too.
        results.push(Outcome {
            scenario,
            detail,
            runs,
            copies,
            downloads,
        });
        if let Some(e) = failure {
            return Err(e);
        }
    }
    Ok(())
}

fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
}

/// A row of the report: its name, how to get it from a run, decimals shown.
type Metric = (&'static str, fn(&Measure) -> f64, usize);

/// The Markdown report: a table per scenario.
fn report(header: &str, results: &Results) -> String {
    let mut out = format!("# mailferry vs mbsync\n\n{header}\n");
    for Outcome {
        scenario,
        detail,
        runs,
        copies,
        downloads,
    } in results
    {
        let _ = write!(out, "\n## {}", scenario.title());
        if !detail.is_empty() {
            let _ = write!(out, " (last day: {detail})");
        }
        let _ = writeln!(
            out,
            "\n\n| median | mailferry | mbsync | mailferry/mbsync |\n|---|---:|---:|---:|"
        );
        let metrics: [Metric; 4] = [
            ("wall (s)", |m| m.wall, 2),
            ("CPU user+sys (s)", |m| m.cpu, 2),
            ("Dovecot's CPU for the run (s)", |m| m.server_cpu, 2),
            ("peak RSS (MiB)", |m| m.rss_kb as f64 / 1024.0, 1),
        ];
        for (name, get, digits) in metrics {
            let a = median(&runs[0].iter().map(get).collect::<Vec<_>>());
            let b = median(&runs[1].iter().map(get).collect::<Vec<_>>());
            let show = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.digits$}"));
            let ratio = match (a, b) {
                (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
                _ => "-".to_string(),
            };
            let _ = writeln!(out, "| {name} | {} | {} | {ratio} |", show(a), show(b));
        }
        let walls = |ms: &[Measure]| {
            ms.iter()
                .map(|m| format!("{:.2}", m.wall))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let _ = writeln!(
            out,
            "\nwall of each run (s): mailferry {}; mbsync {}",
            walls(&runs[0]),
            walls(&runs[1])
        );
        let ours = median(&runs[0].iter().map(|m| m.wall).collect::<Vec<_>>());
        let copy_walls = Baseline::of(copies.iter().map(|c| c.wall));
        if let (Some(copy), Some(ours)) = (copy_walls, ours) {
            let cpu = median_of(copies.iter().map(|c| c.cpu));
            let _ = writeln!(
                out,
                "\n`cp -r` of mailferry's maildir + `sync`, after each repetition: median {:.2} s \
                 (each: {}), CPU {cpu:.2} s; mailferry / copy: {:.2}",
                copy.median,
                copy.each,
                ours / copy.median
            );
        }
        let download_walls = Baseline::of(downloads.iter().map(|d| d.wall));
        if let (Some(download), Some(ours)) = (download_walls, ours) {
            let cpu = median_of(downloads.iter().map(|d| d.cpu));
            let server = median_of(downloads.iter().map(|d| d.server_cpu));
            let _ = writeln!(
                out,
                "\nDownload alone ({} connections fetch every body over TLS and write nothing), after \
                 each repetition: median {:.2} s (each: {}), CPU {cpu:.2} s, Dovecot's CPU \
                 {server:.2} s; mailferry / download: {:.2}",
                download::CONNECTIONS,
                download.median,
                download.each,
                ours / download.median
            );
        }
    }
    out
}

/// The wall times of a baseline's repetitions: their median and each, as printed.
struct Baseline {
    median: f64,
    each: String,
}

impl Baseline {
    /// `None` without any repetition.
    fn of(walls: impl Iterator<Item = f64>) -> Option<Baseline> {
        let walls: Vec<f64> = walls.collect();
        let each: Vec<String> = walls.iter().map(|w| format!("{w:.2}")).collect();
        median(&walls).map(|median| Baseline {
            median,
            each: each.join(" "),
        })
    }
}

/// The median of `values`, 0 without any.
fn median_of(values: impl Iterator<Item = f64>) -> f64 {
    median(&values.collect::<Vec<_>>()).unwrap_or(0.0)
}

/// The floor for an initial sync set by the server: every body of mailferry's account
/// downloaded and thrown away (see `bench/download.rs`); it must have had all `messages`.
fn download_baseline(ctx: &Ctx, messages: usize) -> Result<download::Download> {
    tools::settle(ctx.settle);
    let d = download::download(ctx.server, ctx.port, &ctx.tools[0].user)?;
    if d.bodies != messages {
        bail!(
            "the download alone got {} bodies, not the {messages} messages on the server",
            d.bodies
        );
    }
    eprintln!(
        "bench: download alone ({} connections): wall {:>7.2} s  cpu {:>7.2} s  server cpu {:>7.2} s  {:.1} MB",
        download::CONNECTIONS,
        d.wall,
        d.cpu,
        d.server_cpu,
        d.bytes as f64 / 1e6
    );
    Ok(d)
}

/// The floor for an initial sync: `cp -r` of the maildir a tool just wrote, then
/// `sync`, timed like a tool's run (after a `sync` and the pause for the disk, under
/// `/usr/bin/time -v`); the copy is set aside afterwards (see [`tools::set_aside`]).
fn copy_baseline(maildir: &Path, work: &Path, pause: Duration) -> Result<Copy> {
    let copy = work.join("copy");
    let time_out = work.join("copy-time.txt");
    tools::set_aside(&copy, work)?;
    tools::settle(pause);
    let started = Instant::now();
    let status = tools::timed(&time_out)
        .arg("sh")
        .arg("-c")
        .arg("cp -r \"$1\" \"$2\" && sync")
        .arg("sh")
        .arg(maildir)
        .arg(&copy)
        .status()
        .context("running cp -r")?;
    let wall = started.elapsed().as_secs_f64();
    if !status.success() {
        bail!("cp -r {} failed ({status})", maildir.display());
    }
    let (cpu, _) = tools::read_time(&time_out)?;
    tools::set_aside(&copy, work)?;
    eprintln!("bench: cp -r + sync of mailferry's maildir: wall {wall:>7.2} s  cpu {cpu:>7.2} s");
    Ok(Copy { wall, cpu })
}

/// One `cp -r` + `sync`: wall and user + system seconds.
struct Copy {
    wall: f64,
    cpu: f64,
}
