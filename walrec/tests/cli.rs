//! CLI integration tests: every command and exit code, run as a process.

use std::fs::{self, OpenOptions};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use wal_recovery::segment::header::SegmentHeader;

fn walrec(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_walrec"))
        .args(args)
        .output()
        .expect("run walrec")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
fn expect_code(o: &Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "exit code\n--- stdout\n{}\n--- stderr\n{}",
        stdout(o),
        stderr(o)
    );
    assert!(!stderr(o).contains("panicked"), "panic: {}", stderr(o));
}

fn json(o: &Output) -> Value {
    serde_json::from_str(stdout(o).trim())
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {}", stdout(o)))
}

/// The gen formula, written independently of the tool.
fn expected_payload(id: u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|k| {
            if k < 8 {
                id.to_le_bytes()[k]
            } else {
                ((u128::from(id) * 31 + k as u128 * 17) % 251) as u8
            }
        })
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn dir_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// 30 000 events of 64 bytes in 256 KiB segments (9 segments).
fn gen_log(dir: &Path) -> Output {
    let o = walrec(&[
        "gen",
        dir_str(dir),
        "--events",
        "30000",
        "--segment-bytes",
        "256K",
        "--block-bytes",
        "16K",
    ]);
    expect_code(&o, 0);
    o
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "wal"))
        .collect();
    v.sort();
    v
}

/// Flips one payload byte of the first event of `seg` (segment header 64 B, block header 64 B,
/// record length 4 B, then the payload).
fn flip_payload_byte(seg: &Path) {
    let f = OpenOptions::new().read(true).write(true).open(seg).unwrap();
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, 64 + 64 + 4 + 10).unwrap();
    b[0] ^= 0xff;
    f.write_all_at(&b, 64 + 64 + 4 + 10).unwrap();
}

#[test]
fn clean_log_gen_info_verify_dump_replay() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let d = dir_str(&dir);
    let o = gen_log(&dir);
    assert!(
        stdout(&o).contains("wrote 30,000 events (ids 1..=30000)"),
        "{}",
        stdout(&o)
    );
    let segs = segments(&dir);
    assert!(
        segs.len() >= 5,
        "expected several segments, got {}",
        segs.len()
    );

    // info
    let o = walrec(&["info", d]);
    expect_code(&o, 0);
    let text = stdout(&o);
    assert!(
        text.contains("FILE") && text.contains("00000000000000000001.wal"),
        "{text}"
    );
    let v = json(&walrec(&["info", d, "--json"]));
    let rows = v["segments"].as_array().unwrap();
    assert_eq!(rows.len(), segs.len());
    assert_eq!(rows[0]["first_id"], 1);
    assert_eq!(rows[0]["sealed"], true);
    assert_eq!(rows[0]["status"], "ok");
    let total: u64 = rows.iter().map(|r| r["events"].as_u64().unwrap()).sum();
    assert_eq!(total, 30_000);
    assert_eq!(rows.last().unwrap()["last_id"], 30_000);

    // verify
    let o = walrec(&["verify", d]);
    expect_code(&o, 0);
    assert!(stdout(&o).contains("verdict: CLEAN"), "{}", stdout(&o));
    let o = walrec(&["verify", d, "--json"]);
    expect_code(&o, 0);
    let v = json(&o);
    assert_eq!(v["clean"], true);
    assert_eq!(v["events_verified"], 30_000);
    assert_eq!(v["segments"].as_array().unwrap().len(), segs.len());
    assert!(v["segments"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["status"] == "ok" && s["problem"] == false));
    assert_eq!(v["report"]["clean"], true);
    assert_eq!(v["report"]["complete"], true);
    assert_eq!(v["report"]["events_delivered"], 30_000);
    assert_eq!(v["report"]["mode"], "skip-corrupted");

    // dump: default, hex, json
    let o = walrec(&["dump", d, "--limit", "3"]);
    expect_code(&o, 0);
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    let first: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(&first[..4], &["1", "64", "01", "00"]);
    let o = walrec(&["dump", d, "--from", "20000", "--limit", "1", "--hex"]);
    expect_code(&o, 0);
    let text = stdout(&o);
    let f: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(
        f,
        vec!["20000", "64", hex(&expected_payload(20000, 64)).as_str()]
    );
    let o = walrec(&["dump", d, "--from", "29999", "--json"]);
    expect_code(&o, 0);
    let evs: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(evs.len(), 2);
    for (e, id) in evs.iter().zip([29_999u64, 30_000]) {
        assert_eq!(e["id"], id);
        assert_eq!(e["len"], 64);
        assert_eq!(e["payload_hex"], hex(&expected_payload(id, 64)));
    }

    // replay --check-gen
    let o = walrec(&["replay", d, "--check-gen"]);
    expect_code(&o, 0);
    let text = stdout(&o);
    assert!(
        text.contains("replayed 30,000 events (ids 1..=30000)"),
        "{text}"
    );
    assert!(text.contains("all 30,000 payloads match"), "{text}");
    assert!(
        text.contains("M events/s") && text.contains("GB/s"),
        "{text}"
    );
    assert!(text.contains("report: clean"), "{text}");
    let o = walrec(&["replay", d, "--check-gen", "--json", "--from", "100"]);
    expect_code(&o, 0);
    let v = json(&o);
    assert_eq!(v["ok"], true);
    assert_eq!(v["events"], 30_000 - 99);
    assert_eq!(v["first_id"], 100);
    assert_eq!(v["last_id"], 30_000);
    assert_eq!(v["check_gen"]["ok"], true);
    assert_eq!(v["report"]["clean"], true);
    assert_eq!(v["report"]["start_event_id"], 100);
    assert!(v["m_events_per_s"].as_f64().unwrap() > 0.0);
    let tel = &v["telemetry"];
    assert_eq!(
        tel["wal_recovery_manager_events_delivered_total"],
        30_000 - 99
    );
    assert!(
        tel["wal_recovery_manager_segment_handoff_latency_ns"]["count"]
            .as_u64()
            .unwrap()
            > 0
    );
    // Human telemetry dump after the summary.
    let o = walrec(&["replay", d]);
    expect_code(&o, 0);
    assert!(
        stdout(&o).contains("WAL Recovery Telemetry"),
        "{}",
        stdout(&o)
    );
    // --prometheus: the summary as comments, then exposition text.
    let o = walrec(&["replay", d, "--prometheus"]);
    expect_code(&o, 0);
    let text = stdout(&o);
    assert!(text.contains("# replayed 30,000 events"), "{text}");
    assert!(
        text.contains("# TYPE wal_recovery_manager_events_delivered_total counter"),
        "{text}"
    );
    assert!(
        text.contains("wal_recovery_manager_events_delivered_total{component=\"manager\"} 30000"),
        "{text}"
    );
    for l in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (series, value) = l.rsplit_once(' ').expect("sample line");
        assert!(series.starts_with("wal_recovery_"), "{l}");
        assert!(value == "NaN" || value.parse::<f64>().is_ok(), "{l}");
    }
}

#[test]
fn payload_ranges_and_check_gen_mismatch() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let d = dir_str(&dir);
    let o = walrec(&[
        "gen",
        d,
        "--events",
        "5000",
        "--payload-size",
        "10-100",
        "--first-id",
        "1000",
        "--sync-every",
        "1000",
    ]);
    expect_code(&o, 0);
    let o = walrec(&["replay", d, "--check-gen", "--payload-size", "10-100"]);
    expect_code(&o, 0);
    assert!(
        stdout(&o).contains("all 5,000 payloads match"),
        "{}",
        stdout(&o)
    );
    // Lengths follow the range formula.
    let o = walrec(&["dump", d, "--json", "--limit", "50"]);
    expect_code(&o, 0);
    for l in stdout(&o).lines() {
        let e: Value = serde_json::from_str(l).unwrap();
        let id = e["id"].as_u64().unwrap();
        let len = 10 + ((u128::from(id) * 2_654_435_761) % 91) as usize;
        assert_eq!(e["len"], len);
        assert_eq!(e["payload_hex"], hex(&expected_payload(id, len)));
    }
    // Checked against the wrong size parameter: exit 1 naming the first event.
    let o = walrec(&["replay", d, "--check-gen"]);
    expect_code(&o, 1);
    let err = stderr(&o);
    assert!(err.contains("event 1000"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let o = walrec(&[
        "replay",
        d,
        "--check-gen",
        "--payload-size",
        "10-101",
        "--json",
    ]);
    expect_code(&o, 1);
    let v = json(&o);
    assert_eq!(v["ok"], false);
    assert_eq!(v["check_gen"]["ok"], false);
    assert!(v["check_gen"]["mismatch"]["id"].as_u64().unwrap() >= 1000);
}

#[test]
fn corrupted_middle_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let d = dir_str(&dir);
    gen_log(&dir);
    let segs = segments(&dir);
    let bad = &segs[segs.len() / 2];
    let bad_name = bad.file_name().unwrap().to_str().unwrap().to_string();
    flip_payload_byte(bad);

    let o = walrec(&["verify", d]);
    expect_code(&o, 1);
    assert!(stdout(&o).contains(&bad_name), "{}", stdout(&o));
    assert!(stdout(&o).contains("PROBLEM"), "{}", stdout(&o));
    let o = walrec(&["verify", d, "--json"]);
    expect_code(&o, 1);
    let v = json(&o);
    assert_eq!(v["clean"], false);
    let corrupt: Vec<&Value> = v["segments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "corrupt")
        .collect();
    assert_eq!(corrupt.len(), 1);
    assert_eq!(corrupt[0]["file"], bad_name.as_str());
    assert!(corrupt[0]["detail"].as_str().unwrap().contains("checksum"));
    assert!(!v["report"]["lost"].as_array().unwrap().is_empty());

    // strict replay stops with an error at the damage
    let o = walrec(&["replay", d, "--check-gen"]);
    expect_code(&o, 1);
    assert!(stderr(&o).contains(&bad_name), "{}", stderr(&o));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));

    // skip mode replays the rest and reports the lost range
    let o = walrec(&["replay", d, "--mode", "skip", "--check-gen"]);
    expect_code(&o, 1);
    assert!(stdout(&o).contains("LOST ids"), "{}", stdout(&o));
    let o = walrec(&["replay", d, "--mode", "skip", "--json"]);
    expect_code(&o, 1);
    let v = json(&o);
    let lost = v["report"]["lost"].as_array().unwrap();
    assert_eq!(lost.len(), 1);
    let (lo, hi) = (
        lost[0]["first_id"].as_u64().unwrap(),
        lost[0]["last_id"].as_u64().unwrap(),
    );
    assert!(lo <= hi);
    assert_eq!(v["last_id"], 30_000);
    assert_eq!(v["events"].as_u64().unwrap(), 30_000 - (hi - lo + 1));

    // stop mode ends cleanly before the damage but the report is not clean
    let o = walrec(&["replay", d, "--mode", "stop", "--json"]);
    expect_code(&o, 1);
    let v = json(&o);
    assert!(v["report"]["stopped"].is_string());

    // dump in strict mode fails at the damage
    let o = walrec(&["dump", d]);
    expect_code(&o, 1);
}

#[test]
fn torn_tail_of_unsealed_last_segment_is_clean() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let d = dir_str(&dir);
    gen_log(&dir);
    let last = segments(&dir).pop().unwrap();
    // Turn the last segment back into an unsealed one, as a crash leaves it, with a torn write
    // (the file grown, its new bytes never written: zeros).
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&last)
        .unwrap();
    let mut raw = [0u8; 64];
    f.read_exact_at(&mut raw, 0).unwrap();
    let h = SegmentHeader::decode(&raw).unwrap();
    let open = SegmentHeader {
        sealed: false,
        block_count: 0,
        last_event_id: 0,
        event_count: 0,
        last_chain: 0,
        ..h
    };
    f.write_all_at(&open.encode(), 0).unwrap();
    let len = f.metadata().unwrap().len();
    f.write_all_at(&[0u8; 100], len).unwrap();
    drop(f);

    let o = walrec(&["verify", d]);
    expect_code(&o, 0);
    assert!(stdout(&o).contains("torn tail"), "{}", stdout(&o));
    let v = json(&walrec(&["verify", d, "--json"]));
    assert_eq!(v["clean"], true);
    assert!(v["report"]["torn_tail"].is_object());
    let o = walrec(&["replay", d, "--check-gen"]);
    expect_code(&o, 0);
    // info shows the open segment without totals
    let v = json(&walrec(&["info", d, "--json"]));
    let rows = v["segments"].as_array().unwrap();
    assert_eq!(rows.last().unwrap()["sealed"], false);
    assert!(rows.last().unwrap()["events"].is_null());
}

#[test]
fn unusable_file_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let d = dir_str(&dir);
    gen_log(&dir);
    fs::write(
        dir.join("00000000000000000099.wal"),
        b"not a segment at all",
    )
    .unwrap();
    let o = walrec(&["info", d]);
    expect_code(&o, 1);
    assert!(stdout(&o).contains("bad header"), "{}", stdout(&o));
    let o = walrec(&["verify", d]);
    expect_code(&o, 1);
    assert!(
        stdout(&o).contains("00000000000000000099.wal"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn missing_directory_is_exit_2_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope");
    let m = dir_str(&missing);
    for args in [
        vec!["verify", m],
        vec!["verify", m, "--json"],
        vec!["info", m],
        vec!["dump", m],
        vec!["replay", m, "--check-gen"],
    ] {
        let o = walrec(&args);
        expect_code(&o, 2);
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("walrec: "), "{err}");
        assert!(
            err.contains(m) && err.contains("no such directory"),
            "{err}"
        );
        assert!(stdout(&o).is_empty());
    }
    // gen into a path under a regular file
    let file = tmp.path().join("file");
    fs::write(&file, b"x").unwrap();
    let under = file.join("log");
    let o = walrec(&["gen", dir_str(&under), "--events", "10"]);
    expect_code(&o, 2);
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
}

#[test]
fn usage_errors_are_exit_2() {
    for args in [
        vec![],
        vec!["bogus"],
        vec!["verify"],
        vec!["gen", "/tmp/x"],
        vec!["gen", "/tmp/x", "--events", "ten"],
        vec!["gen", "/tmp/x", "--events", "1", "--payload-size", "9-3"],
        vec!["replay", "/tmp/x", "--mode", "sideways"],
        vec!["dump", "/tmp/x", "--json", "--hex"],
    ] {
        let o = walrec(&args);
        expect_code(&o, 2);
        assert!(!stderr(&o).is_empty());
    }
    let tmp = tempfile::tempdir().unwrap();
    let o = walrec(&[
        "gen",
        dir_str(tmp.path()),
        "--events",
        "1",
        "--segment-bytes",
        "10",
    ]);
    expect_code(&o, 2);
    assert!(stderr(&o).contains("segment_bytes"), "{}", stderr(&o));
    let o = walrec(&["--help"]);
    expect_code(&o, 0);
    assert!(stdout(&o).contains("verify"));
}

#[test]
fn dump_into_closed_pipe_is_not_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    gen_log(&dir);
    let mut child = Command::new(env!("CARGO_BIN_EXE_walrec"))
        .args(["dump", dir_str(&dir), "--hex"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut buf = [0u8; 1024];
    out.read_exact(&mut buf).unwrap();
    drop(out);
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.is_empty(), "{err}");
}

#[test]
fn bench_json_has_every_figure() {
    let o = walrec(&["bench", "--events", "200000", "--json"]);
    expect_code(&o, 0);
    let v = json(&o);
    for k in [
        "replay_meps_min",
        "replay_meps_median",
        "replay_ns_per_event_median",
        "verify_crc_ratio",
        "verify_gbps",
        "crc_gbps",
        "next_ns_per_event_median",
        "handoff_p50_ns",
        "handoff_p99_ns",
        "handoff_walrec_p50_ns",
        "handoff_walrec_p90_ns",
        "handoff_walrec_p99_ns",
        "telemetry_ratio",
        "scan_ms_median",
        "resume_ms_median",
        "peak_rss_before_mib",
        "peak_rss_after_mib",
        "goals",
    ] {
        assert!(!v[k].is_null(), "missing {k} in {v}");
    }
    assert_eq!(v["events"], 200_000);
    assert_eq!(v["scan_segments"], 10_000);
    assert_eq!(v["scan_log_replay_clean"], true);
    assert_eq!(v["handoff_source"], "telemetry");
    assert!(v["segments"].as_u64().unwrap() > 1);
    assert!(v["replay_meps_median"].as_f64().unwrap() > 0.0);
    // Six native goals, and the FlashStrike v1 replay: its throughput and its ratio to native.
    assert_eq!(v["goals"].as_object().unwrap().len(), 8);
    for k in [
        "flashstrike_replay_meps_median",
        "flashstrike_replay_meps_min",
        "flashstrike_native_ratio",
        "flashstrike_log_bytes",
    ] {
        assert!(v[k].as_f64().is_some_and(|x| x > 0.0), "{k} in {v}");
    }
    assert!(v["goals"]["flashstrike_native_ratio"].is_object(), "{v}");
    assert_eq!(v["flashstrike_segments"], 1);
    assert_eq!(v["flashstrike_blocks_per_segment"], 4096);
    assert_eq!(v["flashstrike_segment_bytes"], 64 + 4096 * 16_448);
    // The handoff goal is judged on the crossing next() calls walrec times itself, about a
    // thousand of them (at most 40 replays).
    assert!(v["goals"]["handoff_walrec_p99_ns"].is_object(), "{v}");
    let crossings = v["segments"].as_u64().unwrap() - 1;
    let passes = (1000 / crossings).clamp(1, 40);
    assert_eq!(v["handoff_walrec_passes"], passes);
    assert_eq!(v["handoff_walrec_samples"], passes * crossings);
    // One ordinary next() per boundary too, timed the same way (the measurement's floor).
    assert_eq!(v["handoff_floor_samples"], passes * crossings);
    assert!(v["handoff_floor_p99_ns"].as_u64().unwrap() > 0);
}

#[test]
fn demo_runs_and_cleans_up() {
    let o = walrec(&["demo", "--events", "200000", "--segment-bytes", "4M"]);
    expect_code(&o, 0);
    let text = stdout(&o);
    assert!(text.contains("wrote 200,000 events"), "{text}");
    assert!(text.contains("all 200,000 payloads match"), "{text}");
    assert!(text.contains("report: clean"), "{text}");
    let removed = text
        .lines()
        .find_map(|l| l.strip_prefix("4. removed "))
        .expect("removed line");
    assert!(!Path::new(removed.trim()).exists());
}
