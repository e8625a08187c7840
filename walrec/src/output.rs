//! Output helpers shared by the commands: stdout writer, progress bars, sizes, hex, tables and
//! the human rendering of a recovery report.

use std::fmt::Write as _;
use std::io::{self, BufWriter, IsTerminal, StdoutLock, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use wal_recovery::recovery::scan::FileStatus;
use wal_recovery::RecoveryReport;

/// Buffered, locked stdout. Write errors (a closed pipe) propagate to `main`, which treats a
/// broken pipe as a normal end.
pub fn stdout() -> BufWriter<StdoutLock<'static>> {
    BufWriter::with_capacity(1 << 16, io::stdout().lock())
}

/// Whether progress bars are shown: only when stderr is a terminal.
pub fn progress_enabled() -> bool {
    io::stderr().is_terminal()
}

/// A progress bar on stderr counting `unit`s, hidden unless stderr is a terminal.
pub fn progress(len: u64, msg: &str, unit: Unit) -> ProgressBar {
    if !progress_enabled() {
        return ProgressBar::hidden();
    }
    let template = match unit {
        Unit::Bytes => "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
        Unit::Events => "{msg} [{bar:30}] {human_pos}/{human_len} events ({elapsed}, eta {eta})",
    };
    let style = ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    let pb = ProgressBar::new(len)
        .with_style(style)
        .with_message(msg.to_string());
    pb.enable_steady_tick(Duration::from_millis(200));
    pb
}

/// What a progress bar counts.
#[derive(Clone, Copy, Debug)]
pub enum Unit {
    /// Bytes.
    Bytes,
    /// Events.
    Events,
}

/// Parses a size such as `65536`, `64K`, `64KiB`, `64M`, `64MiB`, `1G` (binary multiples).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, suffix) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a size (e.g. 65536, 64K, 64MiB)"))?;
    let mul: u64 = match suffix.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(format!("'{s}': unknown size suffix (use K, M or G)")),
    };
    n.checked_mul(mul)
        .ok_or_else(|| format!("'{s}' is too large"))
}

/// Parses a count such as `20000000`, `20_000_000`, `20M` or `200K` (decimal multiples).
pub fn parse_count(s: &str) -> Result<u64, String> {
    let t: String = s.trim().chars().filter(|&c| c != '_' && c != ',').collect();
    let (num, mul) = match t.chars().last() {
        Some('k' | 'K') => (&t[..t.len() - 1], 1_000),
        Some('m' | 'M') => (&t[..t.len() - 1], 1_000_000),
        Some('g' | 'G') => (&t[..t.len() - 1], 1_000_000_000),
        _ => (t.as_str(), 1),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a count (e.g. 1000000, 200K, 20M)"))?;
    n.checked_mul(mul)
        .ok_or_else(|| format!("'{s}' is too large"))
}

/// `1536` → `1.5 KiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.1} {}", UNITS[u])
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Lower-case hex of `b`, bytes separated by spaces when `spaced`.
pub fn hex(b: &[u8], spaced: bool) -> String {
    let mut s = String::with_capacity(b.len() * 3);
    for (i, x) in b.iter().enumerate() {
        if spaced && i > 0 {
            s.push(' ');
        }
        let _ = write!(s, "{x:02x}");
    }
    s
}

/// Throughput figures of a replay.
#[derive(Clone, Copy, Debug)]
pub struct Rate {
    /// Million events per second.
    pub meps: f64,
    /// Payload gigabytes (10⁹ bytes) per second.
    pub gbps: f64,
}

/// Events and payload bytes over `d`.
pub fn rate(events: u64, payload_bytes: u64, d: Duration) -> Rate {
    let s = d.as_secs_f64().max(1e-9);
    Rate {
        meps: events as f64 / s / 1e6,
        gbps: payload_bytes as f64 / s / 1e9,
    }
}

/// A plain text table: left-aligned columns separated by two spaces.
#[derive(Debug, Default)]
pub struct Table {
    rows: Vec<Vec<String>>,
    right: Vec<bool>,
}

impl Table {
    /// A table with a header row; columns whose name starts with `>` are right-aligned.
    pub fn new(header: &[&str]) -> Self {
        let right = header.iter().map(|h| h.starts_with('>')).collect();
        let row = header
            .iter()
            .map(|h| h.trim_start_matches('>').to_string())
            .collect();
        Table {
            rows: vec![row],
            right,
        }
    }

    /// Adds a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Renders the table, one line per row.
    pub fn render(&self) -> String {
        let cols = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..cols)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(|s| s.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for r in &self.rows {
            let mut line = String::new();
            for (c, cell) in r.iter().enumerate() {
                if c > 0 {
                    line.push_str("  ");
                }
                let pad = widths[c].saturating_sub(cell.chars().count());
                if self.right.get(c).copied().unwrap_or(false) {
                    line.push_str(&" ".repeat(pad));
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    if c + 1 < r.len() {
                        line.push_str(&" ".repeat(pad));
                    }
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// The library's JSON report as a `serde_json` value (it is always valid JSON).
pub fn report_json(r: &RecoveryReport) -> serde_json::Value {
    serde_json::from_str(&r.to_json())
        .unwrap_or_else(|e| serde_json::json!({ "unparsable_report": e.to_string() }))
}

fn id_range(first: u64, last: Option<u64>) -> String {
    match last {
        Some(l) => format!("{first}..={l}"),
        None => format!("{first}.. (extent unknown)"),
    }
}

/// A human summary of a recovery report, one fact per line, each line indented by `indent`.
pub fn report_text(r: &RecoveryReport, indent: &str) -> String {
    let mut o = String::new();
    let verdict = if r.is_clean() { "clean" } else { "NOT CLEAN" };
    let completion = if r.complete { "complete" } else { "incomplete" };
    let _ = writeln!(
        o,
        "{indent}report: {verdict}, {completion} (mode {})",
        r.mode.as_str()
    );
    let log = match (r.log_first_id, r.log_end_id) {
        // The end comes from the sealed headers; an unsealed last segment (a crash) holds more.
        (Some(f), Some(e)) if r.last_delivered.is_some_and(|l| l >= e) => {
            format!(
                "ids {f}..{e} (end exclusive, per the sealed headers; unsealed segments hold more)"
            )
        }
        (Some(f), Some(e)) => format!("ids {f}..{e} (end exclusive)"),
        (Some(f), None) => format!("ids from {f} (end not in any sealed header)"),
        _ => "empty".to_string(),
    };
    let _ = writeln!(
        o,
        "{indent}log: {log}; {} segment files scanned, {} replayed, {} other files ignored",
        r.segments_scanned, r.segments_replayed, r.ignored_files
    );
    if let Some(f) = r.format {
        let _ = writeln!(o, "{indent}format: {}", f.as_str());
    }
    let delivered = match (r.first_delivered, r.last_delivered) {
        (Some(f), Some(l)) => format!("ids {f}..={l}"),
        _ => "none".to_string(),
    };
    let _ = writeln!(
        o,
        "{indent}delivered: {} events, {} of payload ({delivered}), from id {}",
        thousands(r.events_delivered),
        bytes(r.bytes_delivered),
        r.start_event_id
    );
    if let Some(t) = &r.torn_tail {
        let _ = writeln!(
            o,
            "{indent}torn tail: {} at offset {}: {} bytes dropped ({}) — normal after a crash",
            t.path.display(),
            t.offset,
            t.bytes,
            t.reason
        );
    }
    // Empty segments (FlashStrike's pre-created files) are not data: listed, not problems.
    for f in r.files.iter().filter(|f| !f.status.usable()) {
        let (what, why) = match &f.status {
            FileStatus::Empty { detail } => {
                ("empty segment (not data, nothing lost)", detail.clone())
            }
            other => ("unusable file", other.describe()),
        };
        let _ = writeln!(o, "{indent}{what}: {}: {why}", f.path.display());
    }
    for l in &r.lost {
        let file = l
            .path
            .as_ref()
            .map(|p| format!(" after {}", p.display()))
            .unwrap_or_default();
        let _ = writeln!(
            o,
            "{indent}LOST ids {}{file}: {}",
            id_range(l.first_id, l.last_id),
            l.reason
        );
    }
    for s in &r.segments_skipped {
        let _ = writeln!(o, "{indent}skipped: {}: {}", s.path.display(), s.reason);
    }
    for c in &r.continuity {
        let _ = writeln!(
            o,
            "{indent}{}: between {} and {}: ids {}..={}",
            c.kind,
            c.previous.display(),
            c.next.display(),
            c.first_id,
            c.last_id
        );
    }
    for d in &r.duplicates {
        let _ = writeln!(
            o,
            "{indent}{} duplicate: {} repeats ids {}..={} of {}",
            if d.identical {
                "identical"
            } else {
                "CONFLICTING"
            },
            d.other.display(),
            d.first_id,
            d.last_id,
            d.kept.display()
        );
    }
    if let Some(s) = &r.stopped {
        let _ = writeln!(o, "{indent}stopped early: {s}");
    }
    if let Some(e) = &r.error {
        let _ = writeln!(o, "{indent}error: {e}");
    }
    if let Some(p) = &r.worker_panic {
        let _ = writeln!(o, "{indent}preloader panicked (replay continued): {p}");
    }
    let _ = writeln!(
        o,
        "{indent}fallback opens: {}, synchronous closes: {}",
        r.fallback_opens, r.sync_closes
    );
    o
}

/// Writes `s` to `w`.
pub fn put(w: &mut impl Write, s: &str) -> io::Result<()> {
    w.write_all(s.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_counts() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert!(parse_size("12X").is_err());
        assert!(parse_size("").is_err());
        assert_eq!(parse_count("20M"), Ok(20_000_000));
        assert_eq!(parse_count("200_000"), Ok(200_000));
        assert_eq!(parse_count("5k"), Ok(5000));
        assert!(parse_count("x").is_err());
    }

    #[test]
    fn formatting() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(64 << 20), "64.0 MiB");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(12), "12");
        assert_eq!(hex(&[0, 0xab, 7], true), "00 ab 07");
        assert_eq!(hex(&[0, 0xab], false), "00ab");
        let mut t = Table::new(&["a", ">n"]);
        t.row(vec!["xyz".into(), "1".into()]);
        assert_eq!(t.render(), "a    n\nxyz  1\n");
    }
}
