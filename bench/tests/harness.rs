//! Runs the whole harness on a tiny log and checks every system's count and sum (the
//! harness verifies them on every replay and records any mismatch as a failure), that the
//! charts and report files were written, and that wal_recovery's section (limits over its
//! segment files, ratios, goals, cold ratio, handoff histogram, segment verify) is complete.

use wal_bench::{
    candidate, dataset_dir,
    events::expected_sum,
    run,
    systems::{systems, Kind},
    Config, COLD_CHART, REPLAY_CHART,
};

const WAL_ROWS: [&str; 7] = [
    "wal_recovery (Rust API)",
    "wal_recovery (telemetry off)",
    "wal_recovery (Rust API, next_batch_with)",
    "wal_recovery (C ABI, per event)",
    "wal_recovery (C ABI, batched 64)",
    "wal_recovery (C ABI, inline next_hot)",
    "wal_recovery (FlashStrike v1 log)",
];

#[test]
fn tiny_run_all_systems_correct() {
    let out = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let cfg = Config {
        events: 20_000,
        payload_size: 64,
        reps: 1,
        out_dir: out.path().to_path_buf(),
        data_dir: Some(data.path().to_path_buf()),
        keep_data: true,
        cold: true,
        only: Vec::new(),
        // Small segments so that the tiny log still has segment handoffs.
        wal_segment_bytes: 256 << 10,
        busy_core: false,
    };
    let report = run(&cfg).unwrap();
    assert!(report.failures().is_empty(), "{:?}", report.failures());

    let names: Vec<&str> = report.systems.iter().map(|s| s.name.as_str()).collect();
    for want in ["raft-engine", "okaywal", "commitlog", "baseline"]
        .into_iter()
        .chain(WAL_ROWS)
    {
        assert!(
            names.iter().any(|n| n.contains(want)),
            "{want} missing: {names:?}"
        );
    }
    for s in &report.systems {
        assert!(s.error.is_none(), "{}: {:?}", s.name, s.error);
        let st = s.replay.as_ref().expect("replay stats");
        assert_eq!(st.samples_s.len(), 1);
        assert!(st.min_s > 0.0);
        if s.kind == Kind::Peer {
            assert!(s.speed_vs_fastest_peer.unwrap() <= 1.0 + 1e-12);
        }
        assert_eq!(
            s.kind == Kind::Candidate,
            WAL_ROWS.contains(&s.name.as_str()),
            "{}",
            s.name
        );
    }
    for c in &report.cold_replays {
        assert!(c.error.is_none(), "{}: {:?}", c.name, c.error);
    }
    assert!(!report.cold_reads.is_empty());
    for c in &report.cold_reads {
        // raft-engine's LZ4 shrinks these (compressible) payloads, so only ask for data.
        assert!(
            c.bytes > 0 && c.files > 0,
            "{}: {} bytes",
            c.data_key,
            c.bytes
        );
        if c.data_key == "baseline" {
            assert_eq!(c.bytes, 20_000 * 72);
        }
    }
    let limits = report.limits.as_ref().unwrap();
    assert_eq!(limits.bytes, 20_000 * 72);

    for chart in [REPLAY_CHART, COLD_CHART, candidate::HANDOFF_CHART] {
        let p = out.path().join(chart);
        let len = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        assert!(len > 0, "{} missing or empty", p.display());
    }
    let svg = std::fs::read_to_string(out.path().join(REPLAY_CHART)).unwrap();
    assert!(svg.contains("wal_recovery (C ABI, batched 64)"));

    // wal_recovery's section.
    let root = report.data_dir.clone().expect("data kept");
    let c = report.candidate.as_ref().expect("wal_recovery section");
    assert_eq!(c.primary.as_deref(), Some(candidate::PRIMARY));
    let segs = candidate::segment_files(&dataset_dir(&root, "wal_recovery")).unwrap();
    assert!(segs.len() >= 4, "{segs:?}");
    let seg_bytes: u64 = segs
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    assert_eq!((c.segment_files, c.segment_bytes), (segs.len(), seg_bytes));
    let wl = c.limits.as_ref().expect("limits over the segment files");
    assert_eq!((wl.bytes, wl.files), (seg_bytes, segs.len()));
    assert_eq!(c.rows.len(), WAL_ROWS.len());
    for r in &c.rows {
        assert!(r.frac_of_mem_read.unwrap() > 0.0 && r.frac_of_crc32c.unwrap() > 0.0);
        // Every peer and both baselines.
        assert_eq!(r.vs.len(), 7, "{:?}", r.vs);
        assert!(r.vs.iter().all(|v| v.ratio > 0.0));
    }
    assert_eq!(c.cold.len(), 6, "the native log's rows");
    assert!(c.cold.iter().all(|r| r.ratio > 0.0));
    // raft-engine x2, okaywal, commitlog x2, unverified mmap (next and next_batch_with),
    // 150 M ev/s, cold, verify, FlashStrike 200 M ev/s and FlashStrike vs native, C ABI
    // inline and batched against the Rust API.
    assert_eq!(c.goals.len(), 14, "{:?}", c.goals);
    assert!(
        c.goals.iter().all(|g| g.measured.is_some()),
        "{:?}",
        c.goals
    );
    // Three Rust-API replays (one each) recorded handoffs; every segment after the first.
    assert_eq!(c.warm.telemetry_replays, 3);
    assert_eq!(c.warm.handoff.count, 3 * (segs.len() as u64 - 1));
    assert!(c.warm.handoff.p50_ns > 0 && c.warm.handoff.max_ns >= c.warm.handoff.p99_ns);
    let cold_phase = c.cold_phase.as_ref().expect("cold phase");
    assert_eq!(cold_phase.handoff.count, c.warm.handoff.count);
    for row in WAL_ROWS {
        let r = &c.warm.reports[row];
        assert_eq!((r.replays, r.unclean), (1, 0), "{row}");
        let want = if row == candidate::FLASHSTRIKE_ROW {
            // 20 000 events in segments of 16 blocks of 256 (256 KiB of payload each).
            5
        } else {
            segs.len() as u64
        };
        assert_eq!(r.segments_replayed, want, "{row}");
    }
    let b = c.budget.as_ref().expect("time budget");
    assert!(b.first_segment_open_verify_s > 0.0 && b.handoffs_s > 0.0);
    let sv = c.segment_verify.as_ref().expect("segment verify");
    assert!(sv.bytes > 0 && sv.events > 0);
    assert!(sv.open_verified.samples_s.len() >= 10);
    assert!(sv.ratio_vs_fresh_map_crc > 0.0);

    // Replay every system once more, directly, on the kept logs.
    for s in systems() {
        let (count, sum) = s.replay(&dataset_dir(&root, &s.data_key())).unwrap();
        wal_bench::systems::run_after_timer();
        assert_eq!((count, sum), (20_000, expected_sum(20_000)), "{}", s.name());
    }

    let json = report.to_json();
    assert_eq!(json["config"]["events"], 20_000);
    assert!(json["systems"]["okaywal"]["median_s"].as_f64().unwrap() > 0.0);
    assert!(
        json["systems"]["wal_recovery (C ABI, per event)"]["median_s"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    let wj = &json["wal_recovery"];
    assert!(wj["limits"]["crc32c_gb_s_median"].as_f64().unwrap() > 0.0);
    assert!(wj["warm"]["handoff"]["p99_ns"].as_u64().unwrap() > 0);
    assert!(wj["segment_verify"]["ratio_vs_fresh_map_crc"]
        .as_f64()
        .is_some());
    assert_eq!(wj["goals"].as_array().unwrap().len(), c.goals.len());
    assert!(
        std::fs::metadata(out.path().join("report.json"))
            .unwrap()
            .len()
            > 0
    );
    let md = report.to_markdown();
    assert!(md.contains("| okaywal |"));
    assert!(md.contains("| wal_recovery (Rust API) |"));
    assert!(md.contains("### Goals"));
    assert!(md.contains("Segment handoff latency"));
}

/// `--busy-core`: the run happens under the hog, says so, and judges the scan goal at 0.5x.
#[test]
fn busy_core_run_is_labelled_and_judged_against_its_goal() {
    let out = tempfile::tempdir().unwrap();
    let cfg = Config {
        events: 20_000,
        reps: 1,
        out_dir: out.path().to_path_buf(),
        cold: false,
        only: vec!["wal_recovery (Rust API)".into(), "no CRC".into()],
        wal_segment_bytes: 256 << 10,
        busy_core: true,
        ..Config::default()
    };
    let report = run(&cfg).unwrap();
    assert!(report.failures().is_empty(), "{:?}", report.failures());
    assert!(report.busy_core);
    assert_eq!(report.to_json()["config"]["busy_core"], true);
    assert!(report
        .to_markdown()
        .contains("one core kept busy by a CPU hog (--busy-core)"));
    let goals = &report.candidate.as_ref().expect("wal_recovery ran").goals;
    let scan = goals
        .iter()
        .find(|g| g.goal.contains("unverified mmap scan"))
        .expect("scan goal");
    assert_eq!(scan.target, 0.5);
    assert!(
        scan.goal.contains("both with one core kept busy"),
        "{}",
        scan.goal
    );
    assert!(scan.measured.is_some(), "the scan baseline ran: {scan:?}");
}
