//! Follow mode against a real writer in another process: the writer is this test binary
//! re-executed (the hidden `#[ignore]` test [`follow_writer_child`] with `WALF_DIR` set), the
//! follower is the parent. Every id and payload is checked exactly ([`payload`]).
//!
//! - random flush sizes and small segments: many rolls while the follower keeps up, started
//!   before the log directory exists;
//! - a follower opened mid-log: the catch-up hands over inside the live segment;
//! - the writer SIGKILLed with a half-written block at its tail, then reopened (the torn tail
//!   is cut and the segment sealed): the follower never delivers the torn bytes, reports no
//!   damage, and continues with the new writer's events.
//!
//! Seeds: `WALF_SEED`.

mod follow_support;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use follow_support::*;
use wal_recovery::segment::block::BlockHeader;
use wal_recovery::segment::record;
use wal_recovery::{Manager, Next, RecoveryMode, SegmentReader, Writer, WriterOptions};

const HELPER: &str = "follow_writer_child";
const LIMIT: Duration = Duration::from_secs(120);

fn env_u64(k: &str, default: u64) -> u64 {
    std::env::var(k)
        .ok()
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{k} is not a number")))
        .unwrap_or(default)
}

/// The writer process. Does nothing unless started by a test of this file. Appends `WALF_COUNT`
/// events with [`payload`], flushing after a seeded random 1..=`WALF_MAX_FLUSH` events, then
/// prints `DONE <next id>`. Then, per `WALF_THEN`: `close` (close and exit), `stdin` (wait for a
/// line, append `WALF_COUNT` more the same way, close), `torn` (append half a block by hand
/// and wait to be killed).
#[test]
#[ignore = "helper: the writer process of the follow tests (re-executed by them)"]
fn follow_writer_child() {
    let Some(dir) = std::env::var_os("WALF_DIR") else {
        return;
    };
    let opts = WriterOptions {
        segment_bytes: env_u64("WALF_SEGMENT_BYTES", 64 << 10),
        block_bytes: env_u64("WALF_BLOCK_BYTES", 2048) as u32,
        first_event_id: 1,
    };
    let mut rng = Rng::new(env_u64("WALF_SEED", 1));
    let count = env_u64("WALF_COUNT", 1000);
    let max_flush = env_u64("WALF_MAX_FLUSH", 100);
    let then = std::env::var("WALF_THEN").unwrap_or_else(|_| "close".into());
    let mut w = Writer::open(&dir, opts).expect("child: open writer");
    let mut write_batch = |w: &mut Writer| {
        let mut left = count;
        while left > 0 {
            let n = rng.range(1, max_flush + 1).min(left);
            for _ in 0..n {
                let id = w.next_event_id();
                w.append(&payload(id)).expect("child: append");
            }
            w.flush().expect("child: flush");
            left -= n;
            if rng.chance(1, 4) {
                std::thread::sleep(Duration::from_micros(rng.below(300)));
            }
        }
        println!("DONE {}", w.next_event_id());
        std::io::stdout().flush().expect("child: stdout");
    };
    write_batch(&mut w);
    match then.as_str() {
        "close" => w.close().expect("child: close"),
        "stdin" => {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).expect("child: stdin");
            write_batch(&mut w);
            w.close().expect("child: close");
        }
        "torn" => {
            // A block cut short, as a crash in the middle of its write leaves it: a header that
            // verifies, and half of its payload.
            let (_, path) = newest_segment(Path::new(&dir));
            let r = SegmentReader::open_verified(&path).expect("child: verify own segment");
            let next = r.end_event_id();
            let mut body = Vec::new();
            for k in 0..20 {
                record::encode_into(&mut body, &payload(next + k));
            }
            let h =
                BlockHeader::for_payload(r.index().len() as u32, next, 20, &body, r.last_chain());
            drop(r);
            let mut bytes = h.encode().to_vec();
            bytes.extend_from_slice(&body[..body.len() / 2]);
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .expect("child: open own segment");
            f.write_all(&bytes).expect("child: append torn block");
            println!("TORN");
            std::io::stdout().flush().expect("child: stdout");
            loop {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        other => panic!("child: WALF_THEN={other}?"),
    }
}

fn newest_segment(dir: &Path) -> (u64, std::path::PathBuf) {
    std::fs::read_dir(dir)
        .expect("read log dir")
        .filter_map(|e| {
            let e = e.expect("dir entry");
            let seq = wal_recovery::segment::naming::parse(e.file_name().to_str()?)?;
            Some((seq, e.path()))
        })
        .max()
        .expect("a segment")
}

struct Writer_ {
    child: Child,
    /// The child's stdout, line by line, from a reader thread (so that waiting has a limit).
    lines: mpsc::Receiver<String>,
    stdin: Option<ChildStdin>,
}

fn read_lines(out: ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn spawn_writer(dir: &Path, env: &[(&str, String)]) -> Writer_ {
    let exe = std::env::current_exe().expect("test executable");
    let mut cmd = Command::new(exe);
    cmd.args([
        HELPER,
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("WALF_DIR", dir)
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn writer process");
    let lines = read_lines(child.stdout.take().expect("child stdout"));
    let stdin = child.stdin.take();
    Writer_ {
        child,
        lines,
        stdin,
    }
}

impl Writer_ {
    /// What the child prints from `word` to the end of its line (the first line of its output
    /// also holds the test harness's "test follow_writer_child ... ").
    fn wait_for(&mut self, word: &str) -> String {
        loop {
            let line = match self.lines.recv_timeout(LIMIT) {
                Ok(l) => l,
                Err(e) => panic!("no {word} from the writer: {e}"),
            };
            if let Some(at) = line.find(word) {
                return line[at..].trim().to_string();
            }
        }
    }

    fn finish(mut self) {
        drop(self.stdin.take());
        let st = self.child.wait().expect("wait for writer");
        assert!(st.success(), "writer process failed: {st}");
    }
}

fn seed() -> u64 {
    env_seed("WALF_SEED", 0xF011_0000_0001)
}

#[test]
fn follows_a_writer_process_through_rolls_with_random_flushes() {
    let tmp = tempdir_with_prefix("follow-live");
    let dir = tmp.path().join("not-yet");
    let seed = seed();
    // Opened before the directory exists.
    let mut m = Manager::open(&dir, follow_opts(RecoveryMode::Strict)).expect("open");
    assert!(matches!(m.poll(), Ok(Next::Pending)));
    let count = 30_000u64;
    let w = spawn_writer(
        &dir,
        &[
            ("WALF_COUNT", count.to_string()),
            ("WALF_SEED", seed.to_string()),
            ("WALF_MAX_FLUSH", "300".into()),
        ],
    );
    let mut next = 1;
    follow_to(&mut m, &mut next, count, LIMIT, &format!("seed {seed:#x}"));
    w.finish();
    assert!(
        matches!(m.poll(), Ok(Next::Pending)),
        "follow mode has no end"
    );
    let r = m.report();
    assert!(r.is_clean(), "{r:?}");
    assert_eq!(r.events_delivered, count);
    let segments = std::fs::read_dir(&dir).expect("dir").count();
    assert!(
        segments > 10,
        "the test is meant to cross many rolls: {segments} files"
    );
}

#[test]
fn a_follower_opened_mid_log_continues_inside_the_live_segment() {
    let tmp = tempdir_with_prefix("follow-live");
    let dir = tmp.path().join("log");
    let seed = seed() ^ 2;
    let count = 5_000u64;
    let mut w = spawn_writer(
        &dir,
        &[
            ("WALF_COUNT", count.to_string()),
            ("WALF_SEED", seed.to_string()),
            ("WALF_THEN", "stdin".into()),
            // Large segments: the live one holds unsealed blocks when the follower opens.
            ("WALF_SEGMENT_BYTES", (8u64 << 20).to_string()),
        ],
    );
    assert_eq!(w.wait_for("DONE"), format!("DONE {}", count + 1));
    let mut m = Manager::open(&dir, follow_opts(RecoveryMode::Strict)).expect("open");
    let mut next = 1;
    follow_to(&mut m, &mut next, count, LIMIT, "catch-up");
    assert!(!m.is_following(), "the last event came from the catch-up");
    assert_pending_for(&mut m, Duration::from_millis(50), "writer idle");
    assert!(m.is_following(), "the catch-up ends in the tail");
    writeln!(w.stdin.as_mut().expect("stdin"), "go").expect("tell the writer to go on");
    follow_to(&mut m, &mut next, 2 * count, LIMIT, "live");
    w.finish();
    let r = m.report();
    assert!(r.is_clean(), "{r:?}");
    assert_eq!(r.events_delivered, 2 * count);
}

#[test]
fn a_killed_and_reopened_writer_is_followed_without_its_torn_tail() {
    let tmp = tempdir_with_prefix("follow-live");
    let dir = tmp.path().join("log");
    let seed = seed() ^ 3;
    let first = 4_000u64;
    let mut m = Manager::open(&dir, follow_opts(RecoveryMode::Strict)).expect("open");
    let mut w = spawn_writer(
        &dir,
        &[
            ("WALF_COUNT", first.to_string()),
            ("WALF_SEED", seed.to_string()),
            ("WALF_THEN", "torn".into()),
        ],
    );
    let mut next = 1;
    follow_to(&mut m, &mut next, first, LIMIT, "before the crash");
    w.wait_for("TORN");
    assert_pending_for(
        &mut m,
        Duration::from_millis(200),
        "half a block at the tail",
    );
    assert!(
        m.report().is_clean(),
        "a torn tail of a live writer is not damage"
    );
    w.child.kill().expect("SIGKILL the writer");
    w.child.wait().expect("reap the writer");
    assert_pending_for(&mut m, Duration::from_millis(50), "writer dead");
    // The restarted writer cuts the torn block, seals the segment, continues in a new one.
    let second = 3_000u64;
    let w2 = spawn_writer(
        &dir,
        &[
            ("WALF_COUNT", second.to_string()),
            ("WALF_SEED", (seed ^ 4).to_string()),
        ],
    );
    follow_to(
        &mut m,
        &mut next,
        first + second,
        LIMIT,
        "after the restart",
    );
    w2.finish();
    assert!(matches!(m.poll(), Ok(Next::Pending)));
    let r = m.report();
    assert!(r.is_clean(), "{r:?}");
    assert_eq!(r.events_delivered, first + second);
    assert!(
        r.torn_tail.is_none(),
        "the follower saw no torn tail: the writer cut it"
    );
}
