//! `scripts/install.sh PREFIX` installs a usable library: the shared library under its SONAME
//! with the development symlink, the static library, the C and C++ headers (the umbrella
//! `wal_recovery.hpp` and its parts in `wal_recovery/`), a pkg-config file and a relocatable
//! CMake package. This test installs into a temporary prefix and builds the README's C example
//! against it with `pkg-config --cflags --libs wal_recovery` — dynamically and
//! statically — and runs both. (`scripts/cpp.sh` builds a CMake project with `find_package`
//! against a moved prefix.)

use std::path::Path;
use std::process::Command;

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `$PKG_CONFIG`, else `pkg-config`, else `pkgconf` (the same tool under its own name).
fn pkg_config_tool() -> String {
    if let Ok(t) = std::env::var("PKG_CONFIG") {
        return t;
    }
    let found = |name: &str| {
        Command::new(name)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    match ["pkg-config", "pkgconf"].into_iter().find(|t| found(t)) {
        Some(t) => t.to_owned(),
        None => panic!("neither pkg-config nor pkgconf is installed (.ci/run installs one)"),
    }
}

fn pkg_config(prefix: &Path, args: &[&str]) -> Vec<String> {
    let out = run(Command::new(pkg_config_tool())
        .args(args)
        .arg("wal_recovery")
        .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig")));
    out.split_whitespace().map(str::to_owned).collect()
}

/// The `*.hpp` file names in `dir`, sorted.
fn cxx_header_parts(dir: &Path) -> Vec<String> {
    let mut parts: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{dir:?}: {e}"))
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".hpp"))
        .collect();
    parts.sort();
    parts
}

#[test]
fn install_then_build_the_readme_example_with_pkg_config() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("prefix");
    run(Command::new("bash")
        .arg(root.join("scripts/install.sh"))
        .arg(&prefix));

    let lib = prefix.join("lib");
    assert!(
        lib.join("libwal_recovery.so.1").is_file(),
        "shared library under its SONAME"
    );
    let link = std::fs::read_link(lib.join("libwal_recovery.so")).unwrap();
    assert_eq!(link, Path::new("libwal_recovery.so.1"));
    assert!(lib.join("libwal_recovery.a").is_file());
    assert!(prefix.join("include/wal_recovery.h").is_file());
    assert!(prefix.join("include/wal_recovery.hpp").is_file());
    // The C++ API's parts (include/wal_recovery/*.hpp): every one installed unchanged, and
    // included by the umbrella header.
    let parts = cxx_header_parts(&root.join("include/wal_recovery"));
    for expected in [
        "status.hpp",
        "view.hpp",
        "manager.hpp",
        "telemetry.hpp",
        "writer.hpp",
    ] {
        assert!(
            parts.iter().any(|p| p == expected),
            "{expected} in {parts:?}"
        );
    }
    let umbrella = std::fs::read_to_string(root.join("include/wal_recovery.hpp")).unwrap();
    for part in &parts {
        let installed = prefix.join("include/wal_recovery").join(part);
        assert_eq!(
            std::fs::read(&installed).unwrap_or_else(|e| panic!("{installed:?}: {e}")),
            std::fs::read(root.join("include/wal_recovery").join(part)).unwrap(),
            "{installed:?} differs from include/wal_recovery/{part}"
        );
        assert!(
            umbrella.contains(&format!("#include \"wal_recovery/{part}\"")),
            "wal_recovery.hpp does not include wal_recovery/{part}"
        );
    }
    assert_eq!(
        cxx_header_parts(&prefix.join("include/wal_recovery")),
        parts,
        "installed parts"
    );
    let cmake_dir = lib.join("cmake/wal_recovery");
    let config = std::fs::read_to_string(cmake_dir.join("wal_recoveryConfig.cmake")).unwrap();
    for target in [
        "add_library(wal_recovery::wal_recovery SHARED IMPORTED)",
        "add_library(wal_recovery::wal_recovery_static STATIC IMPORTED)",
        "IMPORTED_SONAME \"libwal_recovery.so.1\"",
        "INTERFACE_LINK_LIBRARIES \"gcc_s;util;rt;Threads::Threads;m;dl\"",
    ] {
        assert!(config.contains(target), "{target} in\n{config}");
    }
    // find_package checks every C++ header part is there.
    let part_list = format!("foreach(_wal_recovery_file IN ITEMS {})", parts.join(";"));
    assert!(config.contains(&part_list), "{part_list} in\n{config}");
    assert!(
        !config.contains("@WAL_"),
        "unsubstituted placeholder:\n{config}"
    );
    // Relocatable: every path is relative to the config file, none names the prefix.
    let prefix_text = std::fs::canonicalize(&prefix).unwrap();
    assert!(
        !config.contains(prefix_text.to_str().unwrap()),
        "absolute prefix in\n{config}"
    );
    let version =
        std::fs::read_to_string(cmake_dir.join("wal_recoveryConfigVersion.cmake")).unwrap();
    assert!(
        version.contains(&format!(
            "set(PACKAGE_VERSION \"{}\")",
            env!("CARGO_PKG_VERSION")
        )),
        "{version}"
    );
    let pc = std::fs::read_to_string(lib.join("pkgconfig/wal_recovery.pc")).unwrap();
    assert!(
        pc.contains(&format!("Version: {}", env!("CARGO_PKG_VERSION"))),
        "{pc}"
    );

    let cflags = pkg_config(&prefix, &["--cflags"]);
    let libs = pkg_config(&prefix, &["--libs"]);
    assert!(libs.iter().any(|l| l == "-lwal_recovery"), "{libs:?}");
    let src = root.join("tests/install/readme_example.c");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());

    // Dynamic: the program records the SONAME and finds the library through its prefix.
    let dynamic = tmp.path().join("readme_dynamic");
    run(Command::new(&cc)
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror"])
        .args(&cflags)
        .arg(&src)
        .arg("-o")
        .arg(&dynamic)
        .args(&libs));
    let needed = run(Command::new("readelf").arg("-d").arg(&dynamic));
    assert!(needed.contains("libwal_recovery.so.1"), "{needed}");
    let out = run(Command::new(&dynamic)
        .arg(tmp.path().join("log-dynamic"))
        .env("LD_LIBRARY_PATH", &lib));
    assert!(
        out.starts_with("applied 10000 sum 50005000 abi 1 version "),
        "{out}"
    );

    // Static: the archive plus what `--static` says it needs.
    let static_libs = pkg_config(&prefix, &["--static", "--libs-only-l"]);
    let statik = tmp.path().join("readme_static");
    run(Command::new(&cc)
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror"])
        .args(&cflags)
        .arg(&src)
        .arg("-o")
        .arg(&statik)
        .arg(lib.join("libwal_recovery.a"))
        .args(static_libs.iter().filter(|l| *l != "-lwal_recovery")));
    let needed = run(Command::new("readelf").arg("-d").arg(&statik));
    assert!(
        !needed.contains("libwal_recovery"),
        "statically linked: {needed}"
    );
    let out = run(Command::new(&statik).arg(tmp.path().join("log-static")));
    assert!(
        out.starts_with("applied 10000 sum 50005000 abi 1 version "),
        "{out}"
    );
}
