//! `walrec dump`: prints events with their ids and payloads, read through the [`Manager`]
//! (so they are verified and in id order).
//!
//! Default: `ID LEN first-16-bytes-in-hex`; `--hex`: the whole payload in hex; `--json`: one
//! JSON object per line (`{"id":..,"len":..,"payload_hex":".."}`).

use std::io::Write;
use std::path::PathBuf;

use wal_recovery::{Manager, RecoveryOptions};

use super::Mode;
use crate::exit::{Failure, Outcome};
use crate::output;

/// Bytes shown by the default format.
const PREVIEW: usize = 16;

/// Arguments of `walrec dump`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Log directory.
    pub dir: PathBuf,
    /// First event id (0: the oldest).
    #[arg(long, value_name = "ID", default_value_t = 0)]
    pub from: u64,
    /// Print at most N events.
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// One JSON object per line.
    #[arg(long, conflicts_with = "hex")]
    pub json: bool,
    /// Full payloads in hex.
    #[arg(long)]
    pub hex: bool,
    /// What to do at damage.
    #[arg(long, value_enum, default_value_t = Mode::Strict)]
    pub mode: Mode,
}

/// Runs `walrec dump`. Exit 1 when the replay ends with an error or the report is not clean
/// (only when the whole log was read: with `--limit` the report covers what was read).
pub fn run(a: Args) -> anyhow::Result<Outcome> {
    let opts = RecoveryOptions {
        start_event_id: a.from,
        mode: a.mode.into(),
        ..RecoveryOptions::default()
    };
    let mut m = Manager::open(&a.dir, opts).map_err(|e| Failure::lib("dump", &e))?;
    let mut out = output::stdout();
    let limit = a.limit.unwrap_or(u64::MAX);
    let mut n = 0u64;
    let mut line = String::with_capacity(256);
    let mut error = None;
    while n < limit {
        let ev = match m.next() {
            Ok(Some(ev)) => ev,
            Ok(None) => break,
            Err(e) => {
                error = Some(e);
                break;
            }
        };
        line.clear();
        if a.json {
            line.push_str(&format!(
                "{{\"id\":{},\"len\":{},\"payload_hex\":\"{}\"}}\n",
                ev.id,
                ev.payload.len(),
                output::hex(ev.payload, false)
            ));
        } else if a.hex {
            line.push_str(&format!(
                "{:>12}  {:>6}  {}\n",
                ev.id,
                ev.payload.len(),
                output::hex(ev.payload, false)
            ));
        } else {
            let shown = &ev.payload[..ev.payload.len().min(PREVIEW)];
            let more = if ev.payload.len() > PREVIEW {
                " …"
            } else {
                ""
            };
            line.push_str(&format!(
                "{:>12}  {:>6}  {}{more}\n",
                ev.id,
                ev.payload.len(),
                output::hex(shown, true)
            ));
        }
        out.write_all(line.as_bytes())?;
        n += 1;
    }
    out.flush()?;
    drop(out);
    if let Some(e) = error {
        eprintln!("walrec: {}", Failure::lib("dump", &e));
        return Ok(Outcome::Problems);
    }
    let report = m.report();
    if report.complete && !report.is_clean() {
        eprintln!(
            "walrec: dump: {}: the log is not clean (run walrec verify)",
            a.dir.display()
        );
        return Ok(Outcome::Problems);
    }
    Ok(Outcome::Clean)
}
