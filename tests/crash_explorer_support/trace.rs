//! The record of one traced run: building the `LD_PRELOAD` shim (`shim.c`) with the compiler
//! `cc` picks for the build target, and parsing what it recorded.
//!
//! The record is the writer's *real* system calls, captured below the library (the shim
//! interposes libc's `open64`, `pwrite64`, `fdatasync`, `rename`, ...), not a mock of the
//! writer's own I/O layer: a call the writer makes that the explorer cannot model is recorded
//! as `unhandled` and fails the trace, and [`super::model::Model::check_complete`] verifies that
//! replaying the record reproduces the files the run really left.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// One recorded call (or a marker the workload wrote).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// An open under the traced root; `created`: it created the file (a new directory entry);
    /// `truncated`: `O_TRUNC` on an existing file.
    Open {
        ino: u64,
        created: bool,
        truncated: bool,
        path: PathBuf,
    },
    Write {
        ino: u64,
        off: u64,
        data: Vec<u8>,
    },
    Trunc {
        ino: u64,
        len: u64,
    },
    Fsync {
        ino: u64,
    },
    Fdatasync {
        ino: u64,
    },
    Rename {
        ino: u64,
        from: PathBuf,
        to: PathBuf,
    },
    Unlink {
        ino: u64,
        path: PathBuf,
    },
    Mkdir {
        ino: u64,
        path: PathBuf,
    },
    /// A line the workload itself appended (`mark <text>`), e.g. `synced 42` after a `sync`
    /// returned.
    Mark(String),
}

/// Parses a record written by the shim and the workload.
pub fn parse(bytes: &[u8]) -> Result<Vec<Op>, String> {
    let mut ops = Vec::new();
    let mut at = 0usize;
    while at < bytes.len() {
        let nl = bytes[at..]
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| format!("record ends inside a line at byte {at}"))?;
        let line = std::str::from_utf8(&bytes[at..at + nl])
            .map_err(|_| format!("record line at byte {at} is not UTF-8"))?;
        at += nl + 1;
        let f: Vec<&str> = line.split(' ').collect();
        let num = |i: usize| -> Result<u64, String> {
            f.get(i)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| format!("bad field {i} in record line {line:?}"))
        };
        let path = |i: usize| -> Result<PathBuf, String> {
            f.get(i)
                .map(PathBuf::from)
                .ok_or_else(|| format!("missing path in record line {line:?}"))
        };
        let op = match f[0] {
            "open" => Op::Open {
                ino: num(1)?,
                created: num(2)? == 1,
                truncated: num(3)? == 1,
                path: path(4)?,
            },
            "write" => {
                let len = num(3)? as usize;
                let data = bytes
                    .get(at..at + len)
                    .ok_or_else(|| format!("record ends inside the data of {line:?}"))?
                    .to_vec();
                at += len;
                Op::Write {
                    ino: num(1)?,
                    off: num(2)?,
                    data,
                }
            }
            "trunc" => Op::Trunc {
                ino: num(1)?,
                len: num(2)?,
            },
            "fsync" => Op::Fsync { ino: num(1)? },
            "fdatasync" => Op::Fdatasync { ino: num(1)? },
            "rename" => Op::Rename {
                ino: num(1)?,
                from: path(2)?,
                to: path(3)?,
            },
            "unlink" => Op::Unlink {
                ino: num(1)?,
                path: path(2)?,
            },
            "mkdir" => Op::Mkdir {
                ino: num(1)?,
                path: path(2)?,
            },
            "mark" => Op::Mark(line["mark ".len().min(line.len())..].to_string()),
            "unhandled" => {
                return Err(format!(
                    "the writer made a call the explorer does not model: {line}"
                ))
            }
            other => return Err(format!("unknown record {other:?}")),
        };
        ops.push(op);
    }
    Ok(ops)
}

/// The shim, compiled once per test process into Cargo's per-target temporary directory
/// (under a name derived from its source, written to a temporary name and renamed, so
/// concurrent test processes never see a half-written library).
pub fn shim() -> &'static Path {
    static SHIM: OnceLock<PathBuf> = OnceLock::new();
    SHIM.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/crash_explorer_support/shim.c");
        let text = std::fs::read(&src).expect("read shim.c");
        let hash = text.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
        });
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("walx-shim");
        std::fs::create_dir_all(&dir).expect("create shim dir");
        let out = dir.join(format!("shim-{hash:016x}.so"));
        if out.exists() {
            return out;
        }
        let tmp = dir.join(format!("shim-{hash:016x}.so.{}", std::process::id()));
        let target = env!("WAL_RECOVERY_BUILD_TARGET");
        let mut cmd: Command = cc::Build::new()
            .target(target)
            .host(target)
            .opt_level(1)
            .cargo_metadata(false)
            .get_compiler()
            .to_command();
        cmd.args(["-shared", "-fPIC", "-Wall", "-Wextra", "-Werror", "-o"])
            .arg(&tmp)
            .arg(&src)
            .arg("-ldl");
        let o = cmd.output().expect("run the C compiler for the shim");
        assert!(
            o.status.success(),
            "compiling the shim failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        std::fs::rename(&tmp, &out).expect("rename shim into place");
        out
    })
}
