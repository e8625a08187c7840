//! Drives the C and C++ test programs in `c_tests/` against the built shared library, and checks
//! what the shared library exports.
//!
//! The programs are compiled with the C compiler the `cc` crate picks (C99, `-Wall -Wextra
//! -Wpedantic -Werror`; C++17 for `engine.cpp`) against the committed `include/wal_recovery.h`,
//! and linked with `target/<profile>/libwal_recovery.so`, which [`cdylib`] keeps current with
//! `cargo build --lib` (`cargo test` itself does not build the cdylib). Because the library's
//! SONAME is `libwal_recovery.so.<ABI>`, each test links through a scratch directory holding
//! `libwal_recovery.so` and `libwal_recovery.so.<ABI>` as symlinks to it, used for `-L` and
//! `-Wl,-rpath`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

const C_FLAGS: &[&str] = &[
    "-std=c99",
    "-Wall",
    "-Wextra",
    "-Wpedantic",
    "-Werror",
    "-g",
];
const CXX_FLAGS: &[&str] = &[
    "-std=c++17",
    "-Wall",
    "-Wextra",
    "-Wpedantic",
    "-Werror",
    "-g",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn c_tests() -> PathBuf {
    root().join("c_tests")
}

/// `target/<profile>`: the directory above this test executable's `deps/`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>")
        .to_path_buf()
}

/// The shared library, brought up to date first. `cargo test` does not build or refresh
/// `target/<profile>/libwal_recovery.so` (it links the tests against the rlib only), so this
/// runs `cargo build --lib` for the same target directory, target and profile: a no-op when the
/// library is current, and the only way not to test a stale one.
fn cdylib() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        let profile = profile_dir();
        let name = profile
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("debug")
            .to_string();
        let mut base = profile.parent().expect("target directory").to_path_buf();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--lib", "-p", "wal-recovery"])
            .current_dir(root());
        let triple = env!("WAL_RECOVERY_BUILD_TARGET");
        if base.file_name().is_some_and(|n| n == triple) {
            cmd.args(["--target", triple]);
            base = base.parent().expect("target directory").to_path_buf();
        }
        cmd.arg("--target-dir").arg(&base);
        match name.as_str() {
            "debug" => {}
            "release" => {
                cmd.arg("--release");
            }
            other => {
                cmd.args(["--profile", other]);
            }
        }
        let status = cmd.status().expect("run cargo build --lib");
        assert!(status.success(), "cargo build --lib failed");
        let lib = profile.join("libwal_recovery.so");
        assert!(lib.exists(), "{} not found", lib.display());
        lib
    })
}

fn abi_version() -> u32 {
    wal_recovery::ffi::wal_abi_version()
}

/// A scratch directory with `lib/` (the symlinked library) and `run/` (for the program).
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        let dir = tempfile::tempdir().expect("temp dir");
        let lib = dir.path().join("lib");
        std::fs::create_dir(&lib).unwrap();
        for name in [
            "libwal_recovery.so".to_string(),
            format!("libwal_recovery.so.{}", abi_version()),
        ] {
            std::os::unix::fs::symlink(cdylib(), lib.join(name)).unwrap();
        }
        std::fs::create_dir(dir.path().join("run")).unwrap();
        Scratch { dir }
    }

    fn lib(&self) -> PathBuf {
        self.dir.path().join("lib")
    }

    fn run_dir(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn link_args(&self) -> Vec<String> {
        let lib = self.lib();
        vec![
            format!("-L{}", lib.display()),
            "-lwal_recovery".into(),
            format!("-Wl,-rpath,{}", lib.display()),
        ]
    }
}

/// The compiler `cc` chooses for the build target (C or C++).
fn compiler(cpp: bool) -> Command {
    let target = env!("WAL_RECOVERY_BUILD_TARGET");
    cc::Build::new()
        .cpp(cpp)
        .target(target)
        .host(target)
        .opt_level(0)
        .cargo_metadata(false)
        .get_compiler()
        .to_command()
}

fn check_output(what: &str, out: Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{what} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    if !stderr.trim().is_empty() {
        eprintln!("{what} stderr:\n{stderr}");
    }
    stdout
}

/// Compiles `sources` (relative to `c_tests/`) into `out` with `flags` plus `extra` args.
fn compile(cpp: bool, flags: &[&str], sources: &[&str], out: &Path, extra: &[String]) {
    let mut cmd = compiler(cpp);
    cmd.args(flags)
        .arg(format!("-I{}", root().join("include").display()))
        .arg(format!("-I{}", c_tests().display()));
    for s in sources {
        cmd.arg(c_tests().join(s));
    }
    cmd.arg("-o").arg(out).args(extra);
    let what = format!("compiling {sources:?}");
    check_output(
        &what,
        cmd.output().unwrap_or_else(|e| panic!("{what}: {e}")),
    );
}

fn run(what: &str, program: &Path, args: &[&Path]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {what}: {e}"));
    check_output(what, out)
}

/// Follow mode through the C API, with the writer in a forked process (`c_tests/follow.c`).
#[test]
fn c_follow() {
    let s = Scratch::new();
    let exe = s.path("follow");
    compile(false, C_FLAGS, &["follow.c"], &exe, &s.link_args());
    let out = run("follow", &exe, &[&s.run_dir()]);
    assert!(out.contains("all checks passed"), "{out}");
}

#[test]
fn c_harness() {
    let s = Scratch::new();
    let exe = s.path("harness");
    let mut extra = s.link_args();
    extra.push("-pthread".into());
    compile(false, C_FLAGS, &["harness.c"], &exe, &extra);
    let out = run("harness", &exe, &[&s.run_dir()]);
    assert!(out.contains("all checks passed"), "{out}");
}

/// The inline per-event call (`wal_recovery_next_hot`) and its window (`c_tests/hot_window.c`).
#[test]
fn c_hot_window() {
    let s = Scratch::new();
    let exe = s.path("hot_window");
    compile(false, C_FLAGS, &["hot_window.c"], &exe, &s.link_args());
    let samples = root().join("tests/data/flashstrike");
    let out = run("hot_window", &exe, &[&s.run_dir(), &samples]);
    assert!(out.contains("all checks passed"), "{out}");
}

#[test]
fn c_dlopen() {
    let s = Scratch::new();
    let exe = s.path("dlopen");
    compile(false, C_FLAGS, &["dlopen.c"], &exe, &["-ldl".into()]);
    let samples = root().join("tests/data/flashstrike");
    let out = run("dlopen", &exe, &[cdylib(), &s.run_dir(), &samples]);
    assert!(out.contains("all checks passed"), "{out}");
}

#[test]
fn cpp_engine() {
    let s = Scratch::new();
    let exe = s.path("engine");
    compile(true, CXX_FLAGS, &["engine.cpp"], &exe, &s.link_args());
    let out = run("engine", &exe, &[&s.run_dir()]);
    assert!(out.contains("state matches"), "{out}");
}

#[test]
fn header_alone_and_included_twice() {
    let s = Scratch::new();
    let obj = s.path("header_alone.o");
    compile(false, C_FLAGS, &["header_alone.c"], &obj, &["-c".into()]);
    let exe = s.path("double_include");
    let mut extra = vec![obj.display().to_string()];
    extra.extend(s.link_args());
    compile(false, C_FLAGS, &["double_include.c"], &exe, &extra);
    run("double_include", &exe, &[]);
    // The header alone also compiles as C++ (extern "C", enum underlying types).
    let cpp_obj = s.path("header_alone_cpp.o");
    compile(
        true,
        &["-x", "c++", "-std=c++11", "-Wall", "-Wextra", "-Werror"],
        &["header_alone.c"],
        &cpp_obj,
        &["-c".into()],
    );
}

/// Defined dynamic symbols of the shared library: (type letter, name).
fn exported_symbols() -> Vec<(char, String)> {
    let out = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(cdylib())
        .output()
        .expect("run nm");
    let text = check_output("nm -D --defined-only", out);
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace().rev();
            let name = f.next()?;
            let kind = f.next()?.chars().next()?;
            Some((kind, name.split('@').next().unwrap_or(name).to_string()))
        })
        .collect()
}

/// Function names the header declares (the identifier before the `(` of each line outside
/// comments and preprocessor lines), and those it defines `static inline` (not exported; their
/// bodies are skipped).
fn header_functions() -> (Vec<String>, Vec<String>) {
    let header = std::fs::read_to_string(root().join("include/wal_recovery.h")).unwrap();
    let mut names = Vec::new();
    let mut inline = Vec::new();
    let mut in_comment = false;
    let mut in_body = false;
    for line in header.lines() {
        let t = line.trim_start();
        if in_body {
            in_body = line != "}";
            continue;
        }
        if in_comment {
            in_comment = !t.contains("*/");
            continue;
        }
        if let Some(def) = t.strip_prefix("static inline ") {
            let name = def
                .split('(')
                .next()
                .unwrap_or("")
                .rsplit(' ')
                .next()
                .unwrap_or("");
            inline.push(name.to_string());
            in_body = true;
            continue;
        }
        if t.starts_with("/*") {
            in_comment = !t.contains("*/");
            continue;
        }
        if t.starts_with('#') || t.starts_with("//") {
            continue;
        }
        if let Some(i) = t.find('(') {
            let before = &t[..i];
            let ident = before
                .rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .next()
                .unwrap_or("");
            if ident.starts_with("wal_") {
                names.push(ident.to_string());
            }
        }
    }
    names.sort();
    names.dedup();
    (names, inline)
}

#[test]
fn only_wal_symbols_are_exported() {
    let symbols = exported_symbols();
    let leaked: Vec<_> = symbols
        .iter()
        .filter(|(k, n)| {
            matches!(k, 'T' | 'D' | 'B' | 'R' | 'W' | 'V' | 'i') && !n.starts_with("wal_")
        })
        .collect();
    assert!(
        leaked.is_empty(),
        "non-wal_ symbols exported from the cdylib: {leaked:?}"
    );
    let mut funcs: Vec<String> = symbols
        .iter()
        .filter(|(k, _)| *k == 'T')
        .map(|(_, n)| n.clone())
        .collect();
    funcs.sort();
    let (declared, inline) = header_functions();
    assert_eq!(
        funcs, declared,
        "exported functions and header declarations differ"
    );
    // The header's inline functions are tested from C.
    assert_eq!(inline, ["wal_recovery_next_hot"]);
    let hot = std::fs::read_to_string(c_tests().join("hot_window.c")).unwrap();
    assert!(hot.contains("wal_recovery_next_hot("));
    // Every function is resolved by the dlopen harness and exercised by the C harness (which
    // calls each with NULL pointer arguments).
    let dlopen = std::fs::read_to_string(c_tests().join("dlopen.c")).unwrap();
    let harness = std::fs::read_to_string(c_tests().join("harness.c")).unwrap();
    for f in &funcs {
        assert!(
            dlopen.contains(&format!("LOAD(lib, api, {f});")),
            "dlopen.c does not load {f}"
        );
        assert!(
            harness.contains(&format!("{f}(")),
            "harness.c does not call {f}"
        );
    }
}

#[test]
fn soname_carries_the_abi_version() {
    let out = Command::new("objdump")
        .arg("-p")
        .arg(cdylib())
        .output()
        .expect("run objdump");
    let text = check_output("objdump -p", out);
    let want = format!("libwal_recovery.so.{}", abi_version());
    let soname = text
        .lines()
        .find(|l| l.trim_start().starts_with("SONAME"))
        .unwrap_or("no SONAME");
    assert_eq!(
        soname.split_whitespace().last(),
        Some(want.as_str()),
        "{soname}"
    );
}
