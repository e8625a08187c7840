//! `walrec tail`: follows a live log (the library's follow mode) and prints every event as it
//! arrives, one per line — `<id> <len> <first bytes in hex>`, or with `--json` one object per
//! line with `id`, `len` and `head` (the first bytes in hex) — until SIGINT or SIGTERM, then
//! exits 0. Started on an empty or missing directory, it waits for the writer's first segment.
//!
//! Output is flushed whenever the follower has caught up (nothing new yet), so a pipe sees each
//! event within one idle period of its arrival, and a burst costs one write per buffer.
//!
//! Exit 1 when the log is damaged in a way the mode does not skip (the error is printed), or
//! when `--mode stop` stops at damage; 2 for usage and I/O errors.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use wal_recovery::{IdleStrategy, Manager, Next, RecoveryOptions};

use super::Mode;
use crate::exit::{Failure, Outcome};
use crate::output;

/// Payload bytes printed per event.
const HEAD_BYTES: usize = 16;
/// How long one wait lasts before the stop flag is checked again.
const WAIT: Duration = Duration::from_millis(100);

/// Arguments of `walrec tail`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Log directory (need not exist yet).
    pub dir: PathBuf,
    /// First event id to print (0: the oldest). An id beyond the end waits for it.
    #[arg(long, value_name = "ID", default_value_t = 0)]
    pub from: u64,
    /// What to do at corruption, gaps and other damage.
    #[arg(long, value_enum, default_value_t = Mode::Strict)]
    pub mode: Mode,
    /// How to wait for new events: busy spin (a core), yield, or back-off sleep (a few percent
    /// of a core, up to ~150 µs later).
    #[arg(long, value_parser = ["spin", "yield", "backoff"], default_value = "backoff")]
    pub idle: String,
    /// One JSON object per line instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Set by the SIGINT/SIGTERM handler; the follow loop checks it between waits.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    // An atomic store is async-signal-safe.
    STOP.store(true, Ordering::SeqCst);
}

/// Routes SIGINT and SIGTERM to [`on_signal`].
fn install_handlers() -> anyhow::Result<()> {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction is a valid value (empty mask, no flags), which is then
        // filled in; `on_signal` only performs an atomic store, which is async-signal-safe.
        let rc = unsafe {
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            libc::sigemptyset(&mut act.sa_mask);
            libc::sigaction(sig, &act, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error()).context("install signal handler");
        }
    }
    Ok(())
}

/// Runs `walrec tail`.
pub fn run(a: Args) -> anyhow::Result<Outcome> {
    install_handlers()?;
    let idle = IdleStrategy::from_name(&a.idle)
        .ok_or_else(|| Failure::usage("tail", format!("unknown idle strategy {}", a.idle)))?;
    let opts = RecoveryOptions {
        start_event_id: a.from,
        mode: a.mode.into(),
        follow: true,
        idle,
        ..RecoveryOptions::default()
    };
    let mut m = Manager::open(&a.dir, opts).map_err(|e| Failure::lib("open log", &e))?;
    let mut out = output::stdout();
    loop {
        if STOP.load(Ordering::SeqCst) {
            out.flush().context("write stdout")?;
            return Ok(Outcome::Clean);
        }
        match m.next_timeout(WAIT) {
            Ok(Next::Event(e)) => {
                let head = &e.payload[..e.payload.len().min(HEAD_BYTES)];
                let line = if a.json {
                    serde_json::json!({
                        "id": e.id,
                        "len": e.payload.len(),
                        "head": output::hex(head, false),
                    })
                    .to_string()
                } else {
                    format!("{} {} {}", e.id, e.payload.len(), output::hex(head, false))
                };
                writeln!(out, "{}", line.trim_end()).context("write stdout")?;
            }
            Ok(Next::Pending) => out.flush().context("write stdout")?,
            Ok(Next::End) => {
                out.flush().context("write stdout")?;
                let why = m
                    .report()
                    .stopped
                    .unwrap_or_else(|| "the replay ended".into());
                return Err(Failure::problem("tail", Some(a.dir.clone()), why).into());
            }
            Err(e) => {
                out.flush().context("write stdout")?;
                return Err(Failure::lib("tail", &e).into());
            }
        }
    }
}
