//! `walrec demo`: shows the library at work in a few seconds — generates a log in a temporary
//! directory, replays it through the [`wal_recovery::Manager`] with every payload checked,
//! prints what happened with the telemetry, and removes the directory.

use std::io::Write;

use wal_recovery::{RecoveryOptions, WriterOptions};

use super::gen::{self, GenParams};
use super::replay;
use crate::exit::{Failure, Outcome};
use crate::genpayload::{Generator, SizeSpec};
use crate::output;
use crate::telemetry_out;

/// Arguments of `walrec demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Events to generate (hidden: tests use a small log).
    #[arg(long, hide = true, default_value = "5M", value_parser = super::count)]
    pub events: u64,
    /// Segment size (hidden).
    #[arg(long, hide = true, default_value = "64MiB", value_parser = super::size)]
    pub segment_bytes: u64,
}

/// Runs `walrec demo`.
pub fn run(a: Args) -> anyhow::Result<Outcome> {
    let tmp = tempfile::Builder::new()
        .prefix("walrec-demo-")
        .tempdir()
        .map_err(|e| {
            Failure::io(
                "demo: create temporary directory",
                &std::env::temp_dir(),
                &e,
            )
        })?;
    let dir = tmp.path().to_path_buf();
    let spec = SizeSpec::fixed(64);
    let p = GenParams {
        events: a.events,
        spec,
        writer: WriterOptions {
            segment_bytes: a.segment_bytes,
            ..WriterOptions::default()
        },
        sync_every: 0,
    };
    let mut out = output::stdout();
    output::put(
        &mut out,
        &format!(
            "walrec demo: a log of {} events with {}-byte payloads, {} segments, in {}\n\n",
            output::thousands(a.events),
            spec,
            output::bytes(a.segment_bytes),
            dir.display()
        ),
    )?;
    out.flush()?;
    let g = gen::generate(&dir, &p, true)?;
    let r = output::rate(g.events, g.payload_bytes, g.elapsed);
    output::put(
        &mut out,
        &format!(
            "1. gen: wrote {} events ({} of payload) into {} segment files ({} on disk) in {:.2} s \
             ({:.1} M events/s, {:.2} GB/s)\n\n",
            output::thousands(g.events),
            output::bytes(g.payload_bytes),
            g.segments,
            output::bytes(g.log_bytes),
            g.elapsed.as_secs_f64(),
            r.meps,
            r.gbps
        ),
    )?;
    output::put(
        &mut out,
        "2. replay: Manager, strict mode, every segment verified (CRCs, ids, chain) by the preloader,\n   \
         every payload checked against the gen formula\n",
    )?;
    out.flush()?;
    let gen = Generator::new(spec);
    let rr = replay::replay(
        &dir,
        RecoveryOptions::default(),
        Some(&gen),
        Some("demo: replay"),
    )?;
    for l in replay::summary_text(&rr, Some(spec)).lines() {
        output::put(&mut out, &format!("   {l}\n"))?;
    }
    output::put(&mut out, "\n3. telemetry:\n")?;
    for l in telemetry_out::dump_or_note(&rr.telemetry, "demo").lines() {
        output::put(&mut out, &format!("   {l}\n"))?;
    }
    let shown = dir.display().to_string();
    tmp.close()
        .map_err(|e| Failure::io("demo: remove temporary directory", &dir, &e))?;
    output::put(&mut out, &format!("\n4. removed {shown}\n"))?;
    out.flush()?;
    if rr.failed() {
        eprintln!("walrec: demo: the replay did not come back clean");
    }
    Ok(Outcome::from_problems(rr.failed()))
}
