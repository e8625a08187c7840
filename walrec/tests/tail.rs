//! `walrec tail` as a process, following a log this test writes with the library's `Writer`
//! (another process, as in production): started on a missing directory, every event printed
//! exactly once in order with its id, length and first bytes, through segment rolls; SIGTERM and
//! SIGINT end it with exit 0; `--from` beyond the end waits; damage exits 1.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use wal_recovery::{Writer, WriterOptions};

const LIMIT: Duration = Duration::from_secs(60);

fn payload(id: u64) -> Vec<u8> {
    let len = (id * 7 % 40) as usize;
    (0..len)
        .map(|k| (id as u8).wrapping_add(k as u8 * 3))
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

struct Tail {
    child: Child,
    lines: mpsc::Receiver<String>,
}

fn spawn_tail(args: &[&str]) -> Tail {
    let mut child = Command::new(env!("CARGO_BIN_EXE_walrec"))
        .arg("tail")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run walrec tail");
    let out = child.stdout.take().expect("stdout");
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Tail { child, lines }
}

impl Tail {
    fn line(&self) -> String {
        self.lines
            .recv_timeout(LIMIT)
            .unwrap_or_else(|e| panic!("no line from walrec tail within {LIMIT:?}: {e}"))
    }

    /// Sends `sig`, and returns the exit code and stderr.
    fn stop(self, sig: libc::c_int) -> (Option<i32>, String) {
        // SAFETY: kill(2) on our own child's pid, which it has not been reaped yet.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, sig) };
        assert_eq!(rc, 0, "kill");
        let out = self.child.wait_with_output().expect("wait for walrec tail");
        assert!(
            self.lines.try_recv().is_err(),
            "no line after the last event"
        );
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

fn write(dir: &Path, ids: std::ops::RangeInclusive<u64>, flush_every: u64) {
    let opts = WriterOptions {
        segment_bytes: 4096,
        block_bytes: 512,
        first_event_id: 1,
    };
    let mut w = Writer::open(dir, opts).expect("open writer");
    for id in ids {
        assert_eq!(w.append(&payload(id)).expect("append"), id);
        if id % flush_every == 0 {
            w.flush().expect("flush");
        }
    }
    w.close().expect("close writer");
}

#[test]
fn tail_json_follows_from_a_missing_directory_and_exits_0_on_sigterm() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("log");
    let t = spawn_tail(&[dir.to_str().expect("utf-8 path"), "--json"]);
    std::thread::sleep(Duration::from_millis(200)); // let it start on the missing directory
    write(&dir, 1..=300, 7);
    for id in 1..=300u64 {
        let v: Value = serde_json::from_str(&t.line()).expect("one JSON object per line");
        let p = payload(id);
        assert_eq!(v["id"], id, "{v}");
        assert_eq!(v["len"], p.len() as u64, "{v}");
        assert_eq!(v["head"], hex(&p[..p.len().min(16)]), "{v}");
    }
    // The writer reopens (a new segment) and appends more: followed too.
    write(&dir, 301..=400, 13);
    for id in 301..=400u64 {
        let v: Value = serde_json::from_str(&t.line()).expect("JSON");
        assert_eq!(v["id"], id, "{v}");
    }
    let (code, err) = t.stop(libc::SIGTERM);
    assert_eq!(code, Some(0), "stderr: {err}");
    assert!(std::fs::read_dir(&dir).expect("dir").count() > 5, "rolls");
}

#[test]
fn tail_text_from_an_id_beyond_the_end_and_sigint() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("log");
    write(&dir, 1..=50, 10);
    let t = spawn_tail(&[
        dir.to_str().expect("utf-8 path"),
        "--from",
        "60",
        "--idle",
        "spin",
    ]);
    std::thread::sleep(Duration::from_millis(200));
    write(&dir, 51..=70, 1);
    for id in 60..=70u64 {
        let p = payload(id);
        let want = format!("{id} {} {}", p.len(), hex(&p[..p.len().min(16)]));
        assert_eq!(t.line().trim_end(), want.trim_end());
    }
    let (code, err) = t.stop(libc::SIGINT);
    assert_eq!(code, Some(0), "stderr: {err}");
}

#[test]
fn tail_exits_1_at_damage() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("log");
    write(&dir, 1..=50, 10);
    // Flip a payload byte of the first block of the first segment.
    let first = dir.join(wal_recovery::segment::naming::file_name(1));
    let mut bytes = std::fs::read(&first).expect("read segment");
    bytes[64 + 64 + 4] ^= 0xff;
    std::fs::write(&first, bytes).expect("write segment");
    let out = Command::new(env!("CARGO_BIN_EXE_walrec"))
        .args(["tail", dir.to_str().expect("utf-8 path")])
        .output()
        .expect("run walrec tail");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("checksum"), "{err}");
}
