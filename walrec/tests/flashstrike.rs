//! `walrec` on FlashStrike v1 logs, run as a process: every command on each real sample log
//! (`tests/data/flashstrike/`, written by FlashStrike's C++ recorder) with no option, with the
//! exact output fragments and exit codes an operator relies on, and `dump`'s decoded
//! `RequestEvent` fields checked against the samples' formula (written out independently in
//! `support`). `gen --format flashstrike` is tested in `flashstrike_gen.rs`.

mod support;

use support::*;

const DIRS: [&str; 5] = ["clean", "crash", "crash_rotation", "cold", "restart"];

#[test]
fn info_on_every_sample() {
    for dir in DIRS {
        let o = walrec(&["info", s(&sample(dir))]);
        expect_code(&o, 0);
        expect_text(&o, "format: flashstrike-v1");
        let v = json(&walrec(&["info", s(&sample(dir)), "--json"]));
        assert_eq!(v["format"], "flashstrike-v1", "{dir}");
        assert_eq!(v["ignored_files"], 1, "{dir}: wal_meta.dat");
        for r in v["segments"].as_array().unwrap() {
            assert_ne!(r["status"], "bad header", "{dir}: {r}");
            assert_eq!(r["format"], "flashstrike-v1", "{dir}: {r}");
        }
    }
    let text = |dir: &str| stdout(&walrec(&["info", s(&sample(dir))]));

    let t = text("clean");
    assert!(t.contains("5 segment files (5 usable), 1.3 MiB, 1 other entries ignored"));
    assert_eq!(
        row(&t, "FS.00000004.wal"),
        [
            "FS.00000004.wal",
            "4",
            "16385..=20000",
            "3,616",
            "257.1",
            "KiB",
            "yes",
            "ok"
        ]
    );

    // The crash: the unfinalized active segment has no totals; the pre-created ones are empty.
    let t = text("crash");
    assert!(
        t.contains("8 segment files (5 usable, 3 empty), 2.0 MiB, 1 other entries ignored"),
        "{t}"
    );
    assert_eq!(
        row(&t, "FS.00000004.wal"),
        [
            "FS.00000004.wal",
            "4",
            "16385..?",
            "?",
            "257.1",
            "KiB",
            "no",
            "ok"
        ]
    );
    for f in ["FS.00000005.wal", "FS.00000006.wal", "FS.00000007.wal"] {
        assert_eq!(
            row(&t, f)[..8],
            [f, "-", "(empty)", "0", "257.1", "KiB", "-", "empty:"],
            "{t}"
        );
        assert!(t.contains("pre-created"), "{t}");
    }
    let v = json(&walrec(&["info", s(&sample("crash")), "--json"]));
    assert_eq!(
        (v["usable"].as_u64(), v["empty"].as_u64()),
        (Some(5), Some(3))
    );
    let rows = v["segments"].as_array().unwrap();
    assert_eq!(rows[7]["file"], "FS.00000007.wal");
    assert_eq!(rows[7]["status"], "empty");
    assert_eq!(rows[7]["events"], 0);

    let t = text("crash_rotation");
    assert!(
        t.contains("7 segment files (4 usable, 3 empty), 1.8 MiB"),
        "{t}"
    );
    assert_eq!(
        row(&t, "FS.00000003.wal"),
        [
            "FS.00000003.wal",
            "3",
            "12289..?",
            "?",
            "257.1",
            "KiB",
            "no",
            "ok"
        ]
    );

    // Cold segments are listed with their compressed size, their header read through LZ4.
    let t = text("cold");
    assert!(t.contains("5 segment files (5 usable), 973.4 KiB"), "{t}");
    assert_eq!(
        row(&t, "FS.00000000.wal.lz4"),
        [
            "FS.00000000.wal.lz4",
            "0",
            "1..=4096",
            "4,096",
            "100.9",
            "KiB",
            "yes",
            "ok"
        ]
    );
    assert_eq!(row(&t, "FS.00000001.wal.lz4")[2], "4097..=8192");

    let t = text("restart");
    assert_eq!(
        row(&t, "FS.00000004.wal")[..4],
        ["FS.00000004.wal", "4", "18001..=20000", "2,000"]
    );
}

#[test]
fn verify_on_every_sample() {
    let cases = [
        (
            "clean",
            0,
            "verdict: CLEAN — 5 segment files, 20,000 events, 1.3 MiB verified",
        ),
        (
            "crash",
            0,
            "verdict: CLEAN — 8 segment files, 17,920 events, 2.0 MiB verified",
        ),
        (
            "crash_rotation",
            0,
            "verdict: CLEAN — 7 segment files, 16,384 events, 1.8 MiB verified",
        ),
        (
            "cold",
            0,
            "verdict: CLEAN — 5 segment files, 20,000 events, 973.4 KiB verified",
        ),
        ("restart", 1, "verdict: 2 PROBLEM(S) FOUND"),
    ];
    for (dir, code, verdict) in cases {
        let o = walrec(&["verify", s(&sample(dir))]);
        expect_code(&o, code);
        expect_text(&o, verdict);
        expect_text(&o, "format: flashstrike-v1");
        let o = walrec(&["verify", s(&sample(dir)), "--json"]);
        expect_code(&o, code);
        let v = json(&o);
        assert_eq!(v["clean"], code == 0, "{dir}");
        assert_eq!(v["format"], "flashstrike-v1");
    }

    // The crash: the active segment's zero-filled tail is the normal torn tail, the pre-created
    // files are empty, and neither is a problem.
    let o = walrec(&["verify", s(&sample("crash"))]);
    let t = stdout(&o);
    assert_eq!(
        row(&t, "FS.00000004.wal")[..8],
        [
            "FS.00000004.wal",
            "4",
            "16385..=17920",
            "1,536",
            "257.1",
            "KiB",
            "no",
            "torn"
        ]
    );
    expect_text(
        &o,
        "torn tail at offset 98752: 164480 bytes dropped (zero-filled block)",
    );
    assert_eq!(row(&t, "FS.00000006.wal")[2..4], ["(empty)", "0"]);
    expect_text(&o, "empty segment (not data, nothing lost): ");
    assert!(!t.contains("unusable file"), "{t}");
    let v = json(&walrec(&["verify", s(&sample("crash")), "--json"]));
    assert_eq!(v["events_verified"], 17_920);
    let segs = v["segments"].as_array().unwrap();
    let statuses: Vec<&str> = segs.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(
        statuses,
        [
            "ok",
            "ok",
            "ok",
            "ok",
            "torn tail",
            "empty",
            "empty",
            "empty"
        ]
    );
    assert!(segs.iter().all(|r| r["problem"] == false));
    assert_eq!(v["report"]["events_delivered"], 17_920);

    // Segments rotated out but never finalized verify whole.
    let v = json(&walrec(&["verify", s(&sample("crash_rotation")), "--json"]));
    assert_eq!(v["events_verified"], 16_384);
    for r in &v["segments"].as_array().unwrap()[..4] {
        assert_eq!(
            (r["status"].as_str(), r["sealed"].as_bool()),
            (Some("ok"), Some(false))
        );
        assert_eq!(r["events"], 4096);
    }

    // Cold segments are verified decompressed.
    let v = json(&walrec(&["verify", s(&sample("cold")), "--json"]));
    assert_eq!(v["events_verified"], 20_000);
    assert_eq!(v["segments"][0]["file"], "FS.00000000.wal.lz4");
    assert_eq!(v["segments"][0]["status"], "ok");

    // The restart gap is named, with the files around it.
    let o = walrec(&["verify", s(&sample("restart"))]);
    expect_text(&o, "  - lost ids 16385..=18000 after ");
    expect_text(&o, "FS.00000003.wal and ");
    expect_text(&o, "FS.00000004.wal: ids 16385..=18000");
    let v = json(&walrec(&["verify", s(&sample("restart")), "--json"]));
    let lost = v["report"]["lost"].as_array().unwrap();
    assert_eq!(lost.len(), 1);
    assert_eq!(
        (lost[0]["first_id"].as_u64(), lost[0]["last_id"].as_u64()),
        (Some(16_385), Some(18_000))
    );
    assert!(v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p.as_str().unwrap().contains("16385..=18000")));
}

#[test]
fn replay_on_every_sample_in_every_mode() {
    // (dir, mode, exit code, events, first id, last id), as tests/flashstrike_samples.rs expects.
    let mut cases = vec![];
    for mode in ["strict", "stop", "skip"] {
        cases.push(("clean", mode, 0, 20_000, 1, 20_000));
        cases.push(("crash", mode, 0, 17_920, 1, 17_920));
        cases.push(("crash_rotation", mode, 0, 16_384, 1, 16_384));
        cases.push(("cold", mode, 0, 20_000, 1, 20_000));
    }
    cases.push(("restart", "strict", 1, 16_384, 1, 16_384));
    cases.push(("restart", "stop", 1, 16_384, 1, 16_384));
    cases.push(("restart", "skip", 1, 18_384, 1, 20_000));
    for (dir, mode, code, events, first, last) in cases {
        let d = sample(dir);
        let o = walrec(&["replay", s(&d), "--mode", mode, "--check-gen", "--json"]);
        expect_code(&o, code);
        let v = json(&o);
        let what = format!("{dir} {mode}");
        assert_eq!(v["events"], events, "{what}");
        assert_eq!(v["first_id"], first, "{what}");
        assert_eq!(v["last_id"], last, "{what}");
        assert_eq!(v["format"], "flashstrike-v1", "{what}");
        assert_eq!(v["ok"], code == 0, "{what}");
        // Every record is the sample formula's RequestEvent.
        assert_eq!(v["check_gen"]["ok"], true, "{what}");
        assert_eq!(v["check_gen"]["formula"], "flashstrike-sample", "{what}");
    }

    // Text: the same ids, and the check.
    let o = walrec(&["replay", s(&sample("crash")), "--check-gen"]);
    expect_code(&o, 0);
    expect_text(&o, "replayed 17,920 events (ids 1..=17920)");
    expect_text(
        &o,
        "check-gen: all 17,920 payloads match the FlashStrike sample formula",
    );
    expect_text(&o, "report: clean, complete (mode strict)");
    expect_text(&o, "format: flashstrike-v1");
    expect_text(&o, "torn tail: ");

    // The restart gap: strict mode ends with a typed error naming it.
    let o = walrec(&["replay", s(&sample("restart"))]);
    expect_code(&o, 1);
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("gap after") && err.contains("event ids 16385..=18000"),
        "{err}"
    );
    let v = json(&walrec(&[
        "replay",
        s(&sample("restart")),
        "--mode",
        "skip",
        "--json",
    ]));
    assert_eq!(v["report"]["lost"][0]["first_id"], 16_385);
    assert_eq!(v["report"]["lost"][0]["last_id"], 18_000);
    let v = json(&walrec(&[
        "replay",
        s(&sample("restart")),
        "--mode",
        "stop",
        "--json",
    ]));
    assert!(
        v["report"]["stopped"].as_str().unwrap().contains("16385"),
        "{v}"
    );

    // Resuming inside a cold segment.
    let v = json(&walrec(&[
        "replay",
        s(&sample("cold")),
        "--from",
        "3000",
        "--json",
    ]));
    assert_eq!(
        (v["first_id"].as_u64(), v["events"].as_u64()),
        (Some(3000), Some(17_001))
    );
}

#[test]
fn dump_decodes_request_events() {
    // Text: the decoded fields by name.
    let o = walrec(&["dump", s(&sample("clean")), "--limit", "2"]);
    expect_code(&o, 0);
    let lines: Vec<String> = stdout(&o).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        [
            "1",
            "timestamp=1000",
            "price=7",
            "quantity=2",
            "user_id=1",
            "order_id=1",
            "type=modify_order_price",
            "order_type=market",
            "side=ask"
        ]
    );
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        [
            "2",
            "timestamp=2000",
            "price=14",
            "quantity=3",
            "user_id=2",
            "order_id=2",
            "type=modify_order_quantity",
            "order_type=limit",
            "side=bid"
        ]
    );
    // Id 16 387: type 3, and user_id wraps at 997.
    let o = walrec(&[
        "dump",
        s(&sample("clean")),
        "--from",
        "16387",
        "--limit",
        "1",
    ]);
    expect_code(&o, 0);
    assert_eq!(
        stdout(&o).split_whitespace().collect::<Vec<_>>(),
        [
            "16387",
            "timestamp=16387000",
            "price=114709",
            "quantity=88",
            "user_id=435",
            "order_id=16387",
            "type=cancel_order",
            "order_type=market",
            "side=ask"
        ]
    );

    // JSON, one object per line, checked field by field, across segment boundaries (cold → hot).
    let r = dumped_ranges(&sample("cold"), &["--from", "8190", "--limit", "5"], 0);
    assert_eq!(r, [(8190, 8194)]);
    for dir in ["clean", "crash", "crash_rotation", "cold"] {
        let r = dumped_ranges(&sample(dir), &["--limit", "3"], 0);
        assert_eq!(r, [(1, 3)], "{dir}");
    }
    // The whole crash log: every event on disk, decoded.
    assert_eq!(dumped_ranges(&sample("crash"), &[], 0), [(1, 17_920)]);
    // The restart log in skip mode: both sides of the gap; exit 1, the log is not clean.
    assert_eq!(
        dumped_ranges(
            &sample("restart"),
            &["--mode", "skip", "--from", "16380"],
            1
        ),
        [(16_380, 16_384), (18_001, 20_000)]
    );
    // Strict mode stops at the gap with exit 1.
    let o = walrec(&["dump", s(&sample("restart")), "--from", "16384"]);
    expect_code(&o, 1);
    assert_eq!(stdout(&o).lines().count(), 1);
    assert!(stderr(&o).contains("16385..=18000"), "{}", stderr(&o));

    // --hex is the raw record.
    let o = walrec(&["dump", s(&sample("clean")), "--hex", "--limit", "1"]);
    expect_code(&o, 0);
    let cells: Vec<String> = stdout(&o).split_whitespace().map(str::to_string).collect();
    assert_eq!(cells[..2], ["1", "64"]);
    assert!(
        cells[2].starts_with("0100000000000000e803000000000000"),
        "{cells:?}"
    );
}

#[test]
fn forcing_a_format() {
    let d = sample("clean");
    for f in ["flashstrike", "flashstrike-v1", "auto"] {
        let o = walrec(&["verify", s(&d), "--format", f]);
        expect_code(&o, 0);
        let o = walrec(&["replay", s(&d), "--format", f]);
        expect_code(&o, 0);
    }
    // The other format: every file is a bad header naming the choice; exit 1.
    let o = walrec(&["info", s(&d), "--format", "native"]);
    expect_code(&o, 1);
    expect_text(
        &o,
        "a flashstrike-v1 header, but the format is set to native",
    );
    let o = walrec(&["verify", s(&d), "--format", "native"]);
    expect_code(&o, 1);
    for cmd in ["dump", "replay"] {
        let o = walrec(&[cmd, s(&d), "--format", "native"]);
        expect_code(&o, 1);
        assert!(
            stderr(&o).contains("format is set to native"),
            "{}",
            stderr(&o)
        );
    }
    let o = walrec(&["info", s(&d), "--format", "sideways"]);
    expect_code(&o, 2);
}
