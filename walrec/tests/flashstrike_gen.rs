//! `walrec gen --format flashstrike`, run as a process: every scenario written, then replayed,
//! dumped and verified, giving the ranges the generator promised; with the samples' parameters
//! it lays out the sample directories; and its usage errors.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use support::*;

/// `gen --format flashstrike` with 2 blocks (512 events) per segment.
fn gen_fs(dir: &Path, scenario: &str, events: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "gen",
        s(dir),
        "--format",
        "flashstrike",
        "--scenario",
        scenario,
        "--events",
        events,
        "--blocks-per-segment",
        "2",
    ];
    args.extend_from_slice(extra);
    let o = walrec(&args);
    expect_code(&o, 0);
    o
}

/// One `gen` run and what must come of it.
struct GenCase {
    scenario: &'static str,
    events: &'static str,
    extra: &'static [&'static str],
    /// Ranges a skip-mode replay delivers.
    want: &'static [(u64, u64)],
    /// Exit code of `verify` (and of a strict replay).
    verify_code: i32,
    /// A fragment of gen's output.
    fragment: &'static str,
}

#[test]
fn gen_every_scenario_then_replay_and_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let case = |scenario, events, extra, want, verify_code, fragment| GenCase {
        scenario,
        events,
        extra,
        want,
        verify_code,
        fragment,
    };
    let cases = [
        case("clean", "2000", &[], &[(1, 2000)], 0, "ids 1..=2000\n"),
        // The active segment 3 holds 364 events: one full block reached the file.
        case(
            "crash",
            "1900",
            &[],
            &[(1, 1792)],
            0,
            "not on disk: ids 1793..=1900",
        ),
        case(
            "crash-rotation",
            "1537",
            &[],
            &[(1, 1536)],
            0,
            "ids 1..=1536\n",
        ),
        case(
            "cold",
            "2000",
            &["--cold-segments", "3"],
            &[(1, 2000)],
            0,
            "FS.00000002.wal.lz4",
        ),
        case(
            "restart",
            "2000",
            &["--restart-gap", "300"],
            &[(1, 1536), (1837, 2000)],
            1,
            "expected gap: ids 1537..=1836",
        ),
    ];
    for c in cases {
        let GenCase {
            scenario,
            events,
            extra,
            want,
            verify_code,
            fragment,
        } = c;
        let dir = tmp.path().join(scenario);
        let o = gen_fs(&dir, scenario, events, extra);
        expect_text(
            &o,
            &format!("wrote a FlashStrike v1 log, scenario {scenario}: "),
        );
        expect_text(&o, "2 blocks (512 events) per segment");
        expect_text(&o, fragment);
        let delivered = want
            .iter()
            .map(|(a, b)| format!("{a}..={b}"))
            .collect::<Vec<_>>()
            .join(", ");
        expect_text(
            &o,
            &format!("expected recovery: delivered ids {delivered}\n"),
        );
        assert!(files(&dir).contains("wal_meta.dat"), "{scenario}");

        // Skip mode delivers exactly the expected ranges, every record decoded and checked.
        let code = if want.len() > 1 { 1 } else { 0 };
        assert_eq!(
            dumped_ranges(&dir, &["--mode", "skip"], code),
            want,
            "{scenario}"
        );
        // verify: clean but for the restart gap.
        let o = walrec(&["verify", s(&dir)]);
        expect_code(&o, verify_code);
        // Strict replay with every payload checked.
        let o = walrec(&["replay", s(&dir), "--check-gen", "--json"]);
        expect_code(&o, verify_code);
        let v = json(&o);
        assert_eq!(v["check_gen"]["ok"], true, "{scenario}");
        assert_eq!(v["first_id"], want[0].0, "{scenario}");
        assert_eq!(v["last_id"], want[0].1, "{scenario}");
    }
    assert_eq!(
        files(&tmp.path().join("cold")),
        [
            "FS.00000000.wal.lz4",
            "FS.00000001.wal.lz4",
            "FS.00000002.wal.lz4",
            "FS.00000003.wal",
            "wal_meta.dat"
        ]
        .into_iter()
        .map(String::from)
        .collect()
    );
    // The crash leaves three pre-created segments after the active one.
    let v = json(&walrec(&["info", s(&tmp.path().join("crash")), "--json"]));
    assert_eq!(
        (v["usable"].as_u64(), v["empty"].as_u64()),
        (Some(4), Some(3))
    );
}

#[test]
fn gen_with_the_samples_parameters_lays_out_the_samples() {
    let tmp = tempfile::tempdir().unwrap();
    for (sample_dir, scenario, events) in [
        ("clean", "clean", "20000"),
        ("crash", "crash", "18000"),
        ("crash_rotation", "crash-rotation", "16385"),
        ("cold", "cold", "20000"),
        ("restart", "restart", "20000"),
    ] {
        let dir = tmp.path().join(scenario);
        let o = walrec(&[
            "gen",
            s(&dir),
            "--format",
            "flashstrike",
            "--scenario",
            scenario,
            "--events",
            events,
        ]);
        expect_code(&o, 0);
        assert_eq!(files(&dir), files(&sample(sample_dir)), "{scenario}");
        // Same file sizes (the cold ones are LZ4 frames of another compressor: not compared).
        for f in files(&dir).iter().filter(|f| !f.ends_with(".lz4")) {
            let len = |p: PathBuf| std::fs::metadata(p).unwrap().len();
            assert_eq!(
                len(dir.join(f)),
                len(sample(sample_dir).join(f)),
                "{scenario}/{f}"
            );
        }
        // And info / verify see them as they see the samples.
        let a = json(&walrec(&["verify", s(&dir), "--json"]));
        let b = json(&walrec(&["verify", s(&sample(sample_dir)), "--json"]));
        for k in ["clean", "events_verified", "segment_files", "format"] {
            assert_eq!(a[k], b[k], "{scenario}: {k}");
        }
    }
    let o = walrec(&[
        "gen",
        s(&tmp.path().join("r2")),
        "--format",
        "flashstrike",
        "--scenario",
        "restart",
        "--events",
        "20000",
    ]);
    expect_text(
        &o,
        "expected recovery: delivered ids 1..=16384, 18001..=20000\n",
    );
    expect_text(&o, "expected gap: ids 16385..=18000");
}

#[test]
fn gen_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("log");
    for (args, msg) in [
        (vec!["--format", "flashstrike"], "needs --scenario"),
        (vec!["--scenario", "clean"], "needs --format flashstrike"),
        (
            vec![
                "--format",
                "flashstrike",
                "--scenario",
                "clean",
                "--payload-size",
                "9",
            ],
            "cannot be used with",
        ),
        (vec!["--blocks-per-segment", "4"], "--scenario"),
        (
            vec!["--format", "flashstrike", "--scenario", "crash-rotation"],
            "k*512 + 1",
        ),
        (
            vec![
                "--format",
                "flashstrike",
                "--scenario",
                "clean",
                "--blocks-per-segment",
                "0",
            ],
            "blocks_per_segment 0",
        ),
    ] {
        let mut all = vec!["gen", s(&d), "--events", "1000"];
        if !args.contains(&"--blocks-per-segment") && args.contains(&"crash-rotation") {
            all.extend(["--blocks-per-segment", "2"]);
        }
        all.extend(args.iter().copied());
        let o = walrec(&all);
        expect_code(&o, 2);
        assert!(stderr(&o).contains(msg), "{all:?}: {}", stderr(&o));
        assert!(!d.exists(), "{all:?} left {}", d.display());
    }
    // Into a non-empty directory: refused, nothing touched.
    std::fs::create_dir(&d).unwrap();
    std::fs::write(d.join("keep"), b"x").unwrap();
    let o = walrec(&[
        "gen",
        s(&d),
        "--events",
        "10",
        "--format",
        "flashstrike",
        "--scenario",
        "clean",
    ]);
    expect_code(&o, 2);
    assert_eq!(stderr(&o).lines().count(), 1);
    assert!(stderr(&o).contains("directory not empty"), "{}", stderr(&o));
    assert_eq!(files(&d).len(), 1);
}
