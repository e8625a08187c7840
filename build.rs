// Build script: versions for the C ABI, the cdylib's SONAME, and the generated C header.
//
// Kept free of inner attributes and `//!` docs: `tests/ffi_header.rs` includes this file as a
// module to generate the header exactly as the build does.

use std::path::{Path, PathBuf};

/// ABI version of the C API: the SONAME is `libwal_recovery.so.<ABI_VERSION>`, the header's
/// `WAL_RECOVERY_ABI_VERSION` and `wal_abi_version()` return it. Bump it on any incompatible
/// change to a function, type or status meaning.
pub const ABI_VERSION: u32 = 1;

/// The generated header, relative to the package root (committed).
pub const HEADER_PATH: &str = "include/wal_recovery.h";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed={HEADER_PATH}");
    println!("cargo:rerun-if-env-changed=CI");
    println!("cargo:rerun-if-env-changed=WAL_RECOVERY_NO_HEADER_UPDATE");
    println!("cargo:rustc-env=WAL_RECOVERY_ABI_VERSION={ABI_VERSION}");
    if let Ok(target) = std::env::var("TARGET") {
        // For the C tests, which compile with the `cc` crate outside a build script.
        println!("cargo:rustc-env=WAL_RECOVERY_BUILD_TARGET={target}");
    }

    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" || os == "android" || os.ends_with("bsd") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libwal_recovery.so.{ABI_VERSION}");
    }

    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    let include = out_dir.join("include");
    let version = std::env::var("CARGO_PKG_VERSION").expect("set by cargo");
    match generate_header(&root, &version) {
        Ok(header) => {
            let _ = std::fs::create_dir_all(&include);
            if let Err(e) = std::fs::write(include.join("wal_recovery.h"), &header) {
                println!("cargo:warning=could not write the generated header to OUT_DIR: {e}");
            }
            update_committed_header(&root, &header);
        }
        Err(e) => {
            // Never fail the build over the header: the committed one stays, and the drift
            // test (tests/ffi_header.rs) reports the problem.
            println!("cargo:warning=C header not generated: {e}");
            let _ = std::fs::create_dir_all(&include);
            let _ = std::fs::copy(root.join(HEADER_PATH), include.join("wal_recovery.h"));
        }
    }
    // Dependents (links = "wal_recovery") find the header in DEP_WAL_RECOVERY_INCLUDE.
    println!("cargo:include={}", include.display());
}

/// Rewrites the committed header when it differs, except in CI (`CI` set) or when
/// `WAL_RECOVERY_NO_HEADER_UPDATE` is set: there the drift test must see the committed file.
fn update_committed_header(root: &Path, header: &str) {
    if std::env::var_os("CI").is_some()
        || std::env::var_os("WAL_RECOVERY_NO_HEADER_UPDATE").is_some()
    {
        return;
    }
    let path = root.join(HEADER_PATH);
    if std::fs::read_to_string(&path).ok().as_deref() == Some(header) {
        return;
    }
    match std::fs::write(&path, header) {
        Ok(()) => println!("cargo:warning=updated {HEADER_PATH} from src/ffi: commit it"),
        Err(e) => println!("cargo:warning=could not update {HEADER_PATH}: {e}"),
    }
}

/// The header text for the package at `root` with package version `version`: cbindgen over
/// `src/ffi` only (so no other module's constants or types leak into it) with `cbindgen.toml`,
/// whose `@...@` placeholders are replaced by the versions.
pub fn generate_header(root: &Path, version: &str) -> Result<String, String> {
    let mut config = cbindgen::Config::from_file(root.join("cbindgen.toml"))?;
    let after = config.after_includes.take().unwrap_or_default();
    config.after_includes = Some(substitute_versions(&after, version)?);
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join("src/ffi/mod.rs"))
        .generate()
        .map_err(|e| format!("cbindgen: {e}"))?;
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).map_err(|e| format!("header is not UTF-8: {e}"))
}

/// Replaces `@VERSION_MAJOR@`, `@VERSION_MINOR@`, `@VERSION_PATCH@`, `@VERSION@` and
/// `@ABI_VERSION@` in `text`.
pub fn substitute_versions(text: &str, version: &str) -> Result<String, String> {
    let core = version.split(['-', '+']).next().unwrap_or(version);
    let parts: Vec<&str> = core.split('.').collect();
    let [major, minor, patch] = parts[..] else {
        return Err(format!("version {version} is not MAJOR.MINOR.PATCH"));
    };
    for (name, v) in [("minor", minor), ("patch", patch)] {
        let n: u32 = v.parse().map_err(|e| format!("{name} version {v}: {e}"))?;
        if n > 255 {
            return Err(format!(
                "{name} version {n} does not fit WAL_RECOVERY_VERSION_NUMBER"
            ));
        }
    }
    Ok(text
        .replace("@VERSION_MAJOR@", major)
        .replace("@VERSION_MINOR@", minor)
        .replace("@VERSION_PATCH@", patch)
        .replace("@VERSION@", version)
        .replace("@ABI_VERSION@", &ABI_VERSION.to_string()))
}
