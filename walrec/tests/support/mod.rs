//! Helpers shared by the FlashStrike CLI tests: running `walrec`, reading its output, the sample
//! logs, and the samples' event formula written independently of the library.
#![allow(dead_code)] // each test crate uses its own subset

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub fn walrec(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_walrec"))
        .args(args)
        .output()
        .expect("run walrec")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
pub fn expect_code(o: &Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "exit code\n--- stdout\n{}\n--- stderr\n{}",
        stdout(o),
        stderr(o)
    );
    assert!(!stderr(o).contains("panicked"), "panic: {}", stderr(o));
    assert!(!stderr(o).contains("internal error"), "{}", stderr(o));
}

#[track_caller]
pub fn expect_text(o: &Output, fragment: &str) {
    assert!(
        stdout(o).contains(fragment),
        "missing {fragment:?} in\n{}",
        stdout(o)
    );
}

pub fn json(o: &Output) -> Value {
    serde_json::from_str(stdout(o).trim())
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {}", stdout(o)))
}

pub fn sample(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/flashstrike")
        .join(name)
}

pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The whitespace-separated cells of the table row of `file` in `text`.
#[track_caller]
pub fn row<'a>(text: &'a str, file: &str) -> Vec<&'a str> {
    text.lines()
        .find(|l| l.split_whitespace().next() == Some(file))
        .unwrap_or_else(|| panic!("no row for {file} in\n{text}"))
        .split_whitespace()
        .collect()
}

/// The samples' event formula, written independently of the library:
/// (timestamp, price, quantity, user_id, order_id, type, order_type, side).
pub fn formula(
    i: u64,
) -> (
    u64,
    i64,
    i64,
    u64,
    u64,
    &'static str,
    &'static str,
    &'static str,
) {
    let types = [
        "new_order",
        "modify_order_price",
        "modify_order_quantity",
        "cancel_order",
    ];
    (
        i * 1000,
        (i * 7) as i64,
        (i % 100 + 1) as i64,
        i % 997,
        i & 0xffff_ffff,
        types[(i % 4) as usize],
        ["limit", "market"][(i % 2) as usize],
        ["bid", "ask"][(i % 2) as usize],
    )
}

/// Checks one `dump --json` object against the formula.
#[track_caller]
pub fn check_decoded(e: &Value) -> u64 {
    let i = e["id"].as_u64().expect("id");
    let (ts, price, qty, user, order, ty, ot, side) = formula(i);
    assert_eq!(e["len"], 64, "{e}");
    assert_eq!(e["timestamp"], ts, "{e}");
    assert_eq!(e["price"], price, "{e}");
    assert_eq!(e["quantity"], qty, "{e}");
    assert_eq!(e["user_id"], user, "{e}");
    assert_eq!(e["order_id"], order, "{e}");
    assert_eq!(e["type"], ty, "{e}");
    assert_eq!(e["order_type"], ot, "{e}");
    assert_eq!(e["side"], side, "{e}");
    assert_eq!(e["type_code"], i % 4, "{e}");
    assert_eq!(e["order_type_code"], i % 2, "{e}");
    assert_eq!(e["side_code"], i % 2, "{e}");
    // The raw record: id LE in bytes 0..8, pad 43..64 zero.
    let hex = e["payload_hex"].as_str().expect("payload_hex");
    assert_eq!(hex.len(), 128);
    assert_eq!(&hex[..16], format!("{:016x}", i.swap_bytes()));
    assert!(hex[86..].bytes().all(|b| b == b'0'), "{hex}");
    i
}

/// `dump --json` of `dir` (extra args appended): every object checked against the formula,
/// the ids as inclusive ranges.
pub fn dumped_ranges(dir: &Path, extra: &[&str], code: i32) -> Vec<(u64, u64)> {
    let mut args = vec!["dump", s(dir), "--json"];
    args.extend_from_slice(extra);
    let o = walrec(&args);
    expect_code(&o, code);
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    for l in stdout(&o).lines() {
        let e: Value = serde_json::from_str(l).unwrap_or_else(|err| panic!("{err}: {l}"));
        let id = check_decoded(&e);
        match ranges.last_mut() {
            Some((_, hi)) if *hi + 1 == id => *hi = id,
            _ => ranges.push((id, id)),
        }
    }
    ranges
}

pub fn files(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}
