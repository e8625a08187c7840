//! `walrec` — the operator's command-line tool for `wal_recovery` logs.
//!
//! Generates logs with deterministic payloads (`gen`), inspects (`info`, `dump`), verifies
//! (`verify`) and replays (`replay`) them exactly as an engine would, follows a live one (`tail`), measures the library
//! (`bench`) and shows it at work (`demo`). Exit codes: 0 clean, 1 problems found in the log,
//! 2 usage or I/O errors (see [`exit`]).
//!
//! Every command that reads a log reads both formats the library does — its own and FlashStrike
//! v1 (the C++ recorder's) — recognising the format from the files, so the same commands work on
//! either with no option (`--format` forces one); `gen --format flashstrike` writes FlashStrike
//! logs in each state its recorder leaves them, and `bench` measures both formats' replay.

mod cmd;
mod exit;
mod genpayload;
mod output;
mod telemetry_out;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Operator's tool for wal_recovery write-ahead logs.
#[derive(Debug, Parser)]
#[command(name = "walrec", version, about, long_about = None, after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

const AFTER_HELP: &str = "Exit codes: 0 clean, 1 problems found in the log, 2 usage or I/O error.";

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a log of deterministic events: native, with the library's Writer, or FlashStrike
    /// v1 in any crash state (--format flashstrike --scenario ...).
    Gen(cmd::gen::Args),
    /// Verify every segment and the continuity of the whole log.
    Verify(cmd::verify::Args),
    /// List the segments from their headers (fast: no block is read).
    Info(cmd::info::Args),
    /// Print events with their ids and payloads.
    Dump(cmd::dump::Args),
    /// Replay the log through the Manager, as an engine would.
    Replay(cmd::replay::Args),
    /// Follow a live log: print events as the writer appends them, until SIGINT/SIGTERM.
    Tail(cmd::tail::Args),
    /// Run the project's performance scenarios on a fresh temporary log.
    Bench(cmd::bench::Args),
    /// Generate a log in a temporary directory, replay it verified, and remove it.
    Demo(cmd::demo::Args),
    /// The writer process of `bench --follow` (internal).
    #[command(hide = true)]
    BenchFollowWriter(cmd::bench::follow::WriterArgs),
}

fn run(cli: Cli) -> anyhow::Result<exit::Outcome> {
    match cli.command {
        Command::Gen(a) => cmd::gen::run(a),
        Command::Verify(a) => cmd::verify::run(a),
        Command::Info(a) => cmd::info::run(a),
        Command::Dump(a) => cmd::dump::run(a),
        Command::Replay(a) => cmd::replay::run(a),
        Command::Tail(a) => cmd::tail::run(a),
        Command::Bench(a) => cmd::bench::run(a),
        Command::Demo(a) => cmd::demo::run(a),
        Command::BenchFollowWriter(a) => cmd::bench::follow::writer(a),
    }
}

fn main() -> ExitCode {
    // A panic is a bug in walrec or the library: say so in one line, no backtrace. The library's
    // preloader catches its own panics; the message is still shown once.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let thread = std::thread::current().name().unwrap_or("?").to_string();
        eprintln!("walrec: internal error (thread {thread}){at}: {msg}");
    }));
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // --help and --version print to stdout and exit 0; usage errors exit 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match std::panic::catch_unwind(|| run(cli)) {
        Ok(Ok(outcome)) => ExitCode::from(outcome.code()),
        Ok(Err(e)) => {
            let (code, line) = exit::report_error(&e);
            if let Some(l) = line {
                eprintln!("{l}");
            }
            ExitCode::from(code)
        }
        Err(_) => ExitCode::from(2),
    }
}
