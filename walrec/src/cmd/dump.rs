//! `walrec dump`: prints events with their ids and payloads, read through the [`Manager`]
//! (so they are verified and in id order).
//!
//! Default: `ID LEN first-16-bytes-in-hex`; `--hex`: the whole payload in hex; `--json`: one
//! JSON object per line (`{"id":..,"len":..,"payload_hex":".."}`).
//!
//! A native payload is opaque bytes, but a FlashStrike v1 record is a known struct (a 64-byte
//! `RequestEvent`), and an operator looking at a FlashStrike log wants its fields, not hex. So on
//! a FlashStrike log (recognised from the headers, or forced with `--format`) the default line
//! and the JSON object carry the decoded fields ([`RequestEvent`]): timestamp, price, quantity,
//! user and order ids, and the request type, order type and side by name (the JSON also keeps
//! their numeric codes and the raw record in hex, so nothing is lost). `--hex` still prints the
//! raw record.

use std::io::Write;
use std::path::PathBuf;

use wal_recovery::flashstrike::event::RequestEvent;
use wal_recovery::recovery::format::Format;
use wal_recovery::{Manager, RecoveryOptions};

use super::{FormatArg, Mode};
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
    /// Segment format: recognised from the headers (auto), or forced.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    pub format: FormatArg,
}

/// The default line of a FlashStrike record: id, then the decoded fields as `name=value`.
fn flashstrike_text(out: &mut String, id: u64, r: &RequestEvent) {
    out.push_str(&format!(
        "{id:>12}  timestamp={} price={} quantity={} user_id={} order_id={} type={} \
         order_type={} side={}\n",
        r.timestamp,
        r.price,
        r.quantity,
        r.user_id,
        r.order_id,
        r.request_type_name(),
        r.order_type_name(),
        r.side_name(),
    ));
}

/// The JSON object of a FlashStrike record (one line).
fn flashstrike_json(out: &mut String, id: u64, payload: &[u8], r: &RequestEvent) {
    out.push_str(&format!(
        "{{\"id\":{id},\"len\":{},\"timestamp\":{},\"price\":{},\"quantity\":{},\
         \"user_id\":{},\"order_id\":{},\"type\":\"{}\",\"order_type\":\"{}\",\
         \"side\":\"{}\",\"type_code\":{},\"order_type_code\":{},\"side_code\":{},\
         \"payload_hex\":\"{}\"}}\n",
        payload.len(),
        r.timestamp,
        r.price,
        r.quantity,
        r.user_id,
        r.order_id,
        r.request_type_name(),
        r.order_type_name(),
        r.side_name(),
        r.request_type,
        r.order_type,
        r.side,
        output::hex(payload, false),
    ));
}

/// Runs `walrec dump`. Exit 1 when the replay ends with an error or the report is not clean
/// (only when the whole log was read: with `--limit` the report covers what was read).
pub fn run(a: Args) -> anyhow::Result<Outcome> {
    let opts = RecoveryOptions {
        start_event_id: a.from,
        mode: a.mode.into(),
        format: a.format.into(),
        ..RecoveryOptions::default()
    };
    let mut m = Manager::open(&a.dir, opts).map_err(|e| Failure::lib("dump", &e))?;
    let flashstrike = m.scan().format == Some(Format::FlashStrikeV1);
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
        // Decoded only on a FlashStrike log (a 64-byte native payload is not a RequestEvent).
        let decoded = if flashstrike && !a.hex {
            RequestEvent::decode(ev.payload)
        } else {
            None
        };
        if let Some(r) = decoded {
            if a.json {
                flashstrike_json(&mut line, ev.id, ev.payload, &r);
            } else {
                flashstrike_text(&mut line, ev.id, &r);
            }
        } else if a.json {
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
