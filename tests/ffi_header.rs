//! The committed C header is exactly what cbindgen generates from `src/ffi` now, and its
//! version macros and status numbers agree with `Cargo.toml` and the library.
//!
//! `build.rs` regenerates `include/wal_recovery.h` on local builds, but not in CI (`CI` set) or
//! with `WAL_RECOVERY_NO_HEADER_UPDATE`, so there a stale committed header fails this test.

use std::path::Path;

/// The build script as a module, to generate the header exactly as the build does.
#[allow(dead_code)]
mod build_script {
    include!("../build.rs");
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn committed_header() -> String {
    std::fs::read_to_string(root().join(build_script::HEADER_PATH))
        .expect("read the committed header")
}

#[test]
fn committed_header_matches_cbindgen_output() {
    let generated = build_script::generate_header(root(), env!("CARGO_PKG_VERSION"))
        .expect("cbindgen generates the header");
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("wal_recovery.h");
    std::fs::write(&fresh, &generated).unwrap();
    let written = std::fs::read_to_string(&fresh).unwrap();
    let committed = committed_header();
    if written != committed {
        let line = written
            .lines()
            .zip(committed.lines())
            .position(|(a, b)| a != b)
            .map_or_else(
                || "(one is a prefix of the other)".to_string(),
                |i| {
                    format!(
                        "first difference at line {}:\n  generated: {}\n  committed: {}",
                        i + 1,
                        written.lines().nth(i).unwrap_or(""),
                        committed.lines().nth(i).unwrap_or("")
                    )
                },
            );
        let keep = dir.keep().join("wal_recovery.h");
        panic!(
            "{} is out of date with src/ffi and cbindgen.toml: rebuild outside CI (`cargo build` \
             rewrites it) and commit it. Compare: diff -u {} {}\n{line}",
            build_script::HEADER_PATH,
            build_script::HEADER_PATH,
            keep.display()
        );
    }
}

/// `#define NAME value` from the header (continuation lines joined).
fn define(header: &str, name: &str) -> String {
    header
        .replace("\\\n", " ")
        .lines()
        .find_map(|l| {
            l.strip_prefix("#define ")?
                .strip_prefix(name)?
                .strip_prefix(' ')
                .map(str::trim)
        })
        .unwrap_or_else(|| panic!("#define {name} not in the header"))
        .to_string()
}

/// The `version` of `[package]` in Cargo.toml.
fn cargo_toml_version() -> String {
    let toml = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let package = toml.split("[package]").nth(1).expect("[package] section");
    let line = package
        .lines()
        .find(|l| l.trim_start().starts_with("version ="))
        .expect("version line");
    line.split('"').nth(1).expect("quoted version").to_string()
}

#[test]
fn version_macros_match_cargo_toml_and_the_library() {
    let h = committed_header();
    let version = cargo_toml_version();
    let mut parts = version.split(['-', '+']).next().unwrap().split('.');
    let (major, minor, patch) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    assert_eq!(define(&h, "WAL_RECOVERY_VERSION_MAJOR"), major);
    assert_eq!(define(&h, "WAL_RECOVERY_VERSION_MINOR"), minor);
    assert_eq!(define(&h, "WAL_RECOVERY_VERSION_PATCH"), patch);
    assert_eq!(
        define(&h, "WAL_RECOVERY_VERSION_STRING"),
        format!("\"{version}\"")
    );
    let abi: u32 = define(&h, "WAL_RECOVERY_ABI_VERSION").parse().unwrap();
    assert_eq!(abi, build_script::ABI_VERSION);
    assert_eq!(abi, wal_recovery::ffi::wal_abi_version());
    // SAFETY: wal_version returns a static NUL-terminated string.
    let runtime = unsafe { std::ffi::CStr::from_ptr(wal_recovery::ffi::wal_version()) };
    assert_eq!(runtime.to_str().unwrap(), version);
    // The packed number is what its formula says (checked in C by c_tests/harness.c too).
    let packed = define(&h, "WAL_RECOVERY_VERSION_NUMBER");
    assert!(
        packed.contains("(WAL_RECOVERY_VERSION_MAJOR << 16)"),
        "{packed}"
    );
    assert!(
        packed.contains("(WAL_RECOVERY_VERSION_MINOR << 8)"),
        "{packed}"
    );
    assert!(packed.contains("WAL_RECOVERY_VERSION_PATCH)"), "{packed}");
}

#[test]
fn status_numbers_in_the_header_match_the_library() {
    use wal_recovery::ffi::wal_status;
    let h = committed_header();
    let mut seen = 0;
    for code in 0..10_000u32 {
        if let Some(s) = wal_status::from_u32(code) {
            let name = s.name().to_str().unwrap();
            assert!(
                h.contains(&format!("    {name} = {code},")),
                "{name} = {code} not in the header"
            );
            seen += 1;
        }
    }
    let declared = h
        .lines()
        .filter(|l| l.trim_start().starts_with("WAL_") && l.contains(" = "))
        .count();
    let modes = h
        .lines()
        .filter(|l| {
            let l = l.trim_start();
            l.starts_with("WAL_MODE_")
                || l.starts_with("WAL_FORMAT_")
                || l.starts_with("WAL_FOLLOW_")
        })
        .count();
    assert_eq!(
        declared - modes,
        seen,
        "the header declares statuses the library does not know"
    );
}
