//! Workloads: what the traced writer process does, the payloads it appends, and the runs
//! that record it.
//!
//! A workload is a script of steps run by this test binary re-executed as a child process
//! (the hidden test `explorer_child`) with the shim preloaded: `o` opens the writer, `aN`
//! appends N events, `f` flushes, `s` syncs, `c` closes, `x` ends the process on the spot (a
//! crash that keeps the page cache). After each `sync` or `close` returns, the child appends
//! `mark synced <id>` to the record, so the explorer knows at every cut point which events the
//! writer promised. Payloads are a pure function of (salt, id), so every delivered event is
//! checked byte-exact and an event under the wrong id never compares equal.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use wal_recovery::{Writer, WriterOptions};

use super::model::{Image, Model};
use super::trace::{self, Op};

/// splitmix64 finaliser: the payload bytes' source.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The payload of event `id` in a log written with `salt`: length in `0..=max`; bytes 0..8 are
/// the id (xor the salt), the rest pseudo-random from (salt, id).
pub fn payload(salt: u64, max: u32, id: u64) -> Vec<u8> {
    let h = mix(salt ^ id.wrapping_mul(0xD6E8_FEB8_6659_FD93));
    let len = (h % (max as u64 + 1)) as usize;
    let mut out = Vec::with_capacity(len + 8);
    out.extend_from_slice(&(id ^ salt).to_le_bytes());
    let mut w = 1u64;
    while out.len() < len {
        out.extend_from_slice(&mix(h ^ w).to_le_bytes());
        w += 1;
    }
    out.truncate(len);
    out
}

/// How the base log (the files before the traced run, all durable) is left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// Closed cleanly.
    Closed,
    /// The process ended after flushing, without closing (last segment unsealed).
    Crashed,
    /// Crashed, then the newest segment was cut inside a block (a torn tail to repair).
    TornTail,
    /// Crashed, then a `<next>.wal.tmp` with a header and junk was left behind.
    LeftoverTmp,
}

/// One workload.
#[derive(Clone, Debug)]
pub struct Spec {
    pub name: String,
    pub seed: u64,
    pub max_payload: u32,
    pub segment_bytes: u64,
    pub block_bytes: u32,
    /// The log directory, relative to the traced root (it may not exist before the run).
    pub log_rel: PathBuf,
    /// A base log written (untraced) before the run: events, sync every, how it is left.
    pub base: Option<(u64, u64, Ending)>,
    pub script: String,
    /// Byte budget after which writes fail with `ENOSPC`.
    pub enospc: Option<u64>,
    /// Writer knobs (`crash-knobs` feature) active in the traced run.
    pub knobs: String,
}

impl Spec {
    pub fn opts(&self) -> WriterOptions {
        WriterOptions {
            segment_bytes: self.segment_bytes,
            block_bytes: self.block_bytes,
            first_event_id: 1,
        }
    }
}

/// The child process: runs the script in `WALX_SCRIPT` on the log `WALX_LOG`. Does nothing
/// when those are not set.
pub fn child_main() {
    let (Some(log), Some(script), Some(marks)) = (
        std::env::var_os("WALX_LOG"),
        std::env::var("WALX_SCRIPT").ok(),
        std::env::var_os("WALX_MARKS"),
    ) else {
        return;
    };
    let num = |k: &str| -> u64 {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("child: {k}"))
    };
    let (salt, max) = (num("WALX_SALT"), num("WALX_MAX_PAYLOAD") as u32);
    let opts = WriterOptions {
        segment_bytes: num("WALX_SEGMENT_BYTES"),
        block_bytes: num("WALX_BLOCK_BYTES") as u32,
        first_event_id: 1,
    };
    // The marks go to the record file itself (outside the traced root, so not recorded as a
    // call), appended in program order with the shim's records.
    let mut marks = OpenOptions::new()
        .append(true)
        .create(true)
        .open(marks)
        .expect("child: open record");
    let mut mark = |text: String| {
        marks
            .write_all(format!("mark {text}\n").as_bytes())
            .expect("child: mark");
    };
    let mut w: Option<Writer> = None;
    for step in script.split_whitespace() {
        let r: Result<(), String> = (|| {
            match step.as_bytes()[0] {
                b'o' => {
                    w = Some(Writer::open(&log, opts).map_err(|e| format!("open: {e}"))?);
                }
                b'a' => {
                    let n: u64 = step[1..].parse().expect("child: step");
                    let wr = w.as_mut().ok_or("append without a writer")?;
                    for _ in 0..n {
                        let id = wr.next_event_id();
                        wr.append(&payload(salt, max, id))
                            .map_err(|e| format!("append: {e}"))?;
                    }
                }
                b'f' => w
                    .as_mut()
                    .ok_or("no writer")?
                    .flush()
                    .map_err(|e| format!("flush: {e}"))?,
                b's' => {
                    let wr = w.as_mut().ok_or("no writer")?;
                    wr.sync().map_err(|e| format!("sync: {e}"))?;
                    mark(format!("synced {}", wr.next_event_id() - 1));
                }
                b'c' => {
                    let wr = w.take().ok_or("no writer")?;
                    let last = wr.next_event_id() - 1;
                    wr.close().map_err(|e| format!("close: {e}"))?;
                    mark(format!("synced {last}"));
                }
                b'x' => std::process::exit(0),
                _ => panic!("child: unknown step {step}"),
            }
            Ok(())
        })();
        if let Err(e) = r {
            mark(format!("failed {}", e.replace('\n', " ")));
            // A failed writer does nothing more; end like a crash.
            std::process::exit(0);
        }
    }
    std::process::exit(0);
}

/// Runs the child with `script` on `root/log_rel`; traced (shim preloaded, recording under
/// `root`) when `record` is given.
fn run_child(spec: &Spec, root: &Path, script: &str, record: Option<&Path>, marks: &Path) {
    let exe = std::env::current_exe().expect("current exe");
    let mut cmd = Command::new(exe);
    cmd.args([
        "--exact",
        "explorer_child",
        "--ignored",
        "--test-threads=1",
        "-q",
    ])
    .env("WALX_LOG", root.join(&spec.log_rel))
    .env("WALX_SCRIPT", script)
    .env("WALX_MARKS", marks)
    .env("WALX_SALT", spec.seed.to_string())
    .env("WALX_MAX_PAYLOAD", spec.max_payload.to_string())
    .env("WALX_SEGMENT_BYTES", spec.segment_bytes.to_string())
    .env("WALX_BLOCK_BYTES", spec.block_bytes.to_string())
    .env_remove("WALREC_CRASH_KNOBS");
    if let Some(rec) = record {
        cmd.env("LD_PRELOAD", trace::shim())
            .env("WALX_TRACE", rec)
            .env("WALX_ROOT", root)
            .env("WALREC_CRASH_KNOBS", &spec.knobs);
        if let Some(b) = spec.enospc {
            cmd.env("WALX_ENOSPC", b.to_string());
        }
    }
    let out = cmd.output().expect("start the workload child");
    assert!(
        out.status.success(),
        "workload child {} failed: {}\n{}",
        spec.name,
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A recorded run, ready to explore.
pub struct Recorded {
    pub spec: Spec,
    pub model: Model,
    /// Last id the base log held (all durable), 0 if none.
    pub base_last: u64,
    /// `synced[i]`: the last id promised by a `sync`/`close` that returned before op `i`.
    pub synced_before: Vec<u64>,
    /// Whether the run ended with a failed writer (`mark failed ...`).
    pub failed: Option<String>,
}

impl Recorded {
    /// The last id promised durable at cut `k` (ops `0..k` happened).
    pub fn promised(&self, k: usize) -> u64 {
        self.base_last.max(self.synced_before[k])
    }
}

/// Writes the base log (if any), then runs and records the workload under `root` (empty).
pub fn record(spec: &Spec, root: &Path, base_last: impl Fn(&Path) -> u64) -> Recorded {
    let scratch = root.with_extension("marks");
    let mut base_last_id = 0;
    if let Some((events, every, ending)) = spec.base {
        let mut script = String::from("o");
        let mut left = events;
        while left > 0 {
            let n = left.min(every);
            script.push_str(&format!(" a{n} s"));
            left -= n;
        }
        script.push_str(if ending == Ending::Closed {
            " c"
        } else {
            " a3 f x"
        });
        run_child(spec, root, &script, None, &scratch);
        let log = root.join(&spec.log_rel);
        let mut segs: Vec<PathBuf> = fs::read_dir(&log)
            .expect("read base log")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "wal"))
            .collect();
        segs.sort();
        let newest = segs.last().expect("base log has a segment").clone();
        let mut r = super::Rng::new(spec.seed ^ 0xBA5E);
        match ending {
            Ending::TornTail => {
                let len = fs::metadata(&newest).expect("stat").len();
                if len > 129 {
                    let cut = r.range(129, len - 1);
                    File::options()
                        .write(true)
                        .open(&newest)
                        .and_then(|f| f.set_len(cut))
                        .expect("cut the base's tail");
                }
            }
            Ending::LeftoverTmp => {
                let name = newest
                    .file_name()
                    .expect("name")
                    .to_string_lossy()
                    .into_owned();
                let seq: u64 = name[..20].parse().expect("sequence");
                let mut bytes = fs::read(&newest).expect("read newest");
                bytes.truncate(128 + r.below(300) as usize);
                let tmp = log.join(format!("{:020}.wal.tmp", seq + 1));
                fs::write(tmp, bytes).expect("leave a temporary");
            }
            Ending::Closed | Ending::Crashed => {}
        }
        base_last_id = base_last(&log);
    }
    let _ = fs::remove_file(&scratch);
    let (base, base_inos) = Image::read(root);
    let rec = root.with_extension("record");
    run_child(spec, root, &spec.script, Some(&rec), &rec);
    let bytes = fs::read(&rec).unwrap_or_default();
    let _ = fs::remove_file(&rec);
    let ops = trace::parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", spec.name));
    let mut synced_before = Vec::with_capacity(ops.len() + 1);
    let mut failed = None;
    let mut promised = 0u64;
    for op in &ops {
        synced_before.push(promised);
        if let Op::Mark(m) = op {
            if let Some(id) = m.strip_prefix("synced ") {
                promised = id.parse().expect("synced id");
            } else if let Some(f) = m.strip_prefix("failed ") {
                failed = Some(f.to_string());
            }
        }
    }
    synced_before.push(promised);
    let model =
        Model::new(root, base, &base_inos, ops).unwrap_or_else(|e| panic!("{}: {e}", spec.name));
    let (real, _) = Image::read(root);
    model
        .check_complete(&real)
        .unwrap_or_else(|e| panic!("{}: the record is incomplete: {e}", spec.name));
    Recorded {
        spec: spec.clone(),
        model,
        base_last: base_last_id,
        synced_before,
        failed,
    }
}

/// Spec names → how many of them, for reports.
pub fn tally(specs: &[Spec]) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for s in specs {
        let kind = s.name.split('-').next().unwrap_or("").to_string();
        *m.entry(kind).or_insert(0) += 1;
    }
    m
}
