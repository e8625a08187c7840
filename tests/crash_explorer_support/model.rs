//! The persistence model: which crash states a power loss may leave after a recorded run.
//!
//! Rules (conservative POSIX, the model of ALICE and CrashMonkey, without any file system's
//! extra guarantees):
//!
//! * **Data** (`pwrite`, `ftruncate`, `O_TRUNC`) of a file is durable once an `fsync` or
//!   `fdatasync` of that file returned after it. Un-synced data survives sector by sector
//!   (512 bytes or 4 KiB, aligned in the file), as the page cache writes it back: each sector
//!   holds its durable content, or its content after some of the un-synced writes that touched
//!   it, chosen per sector, so a later sector can survive without an earlier one (a file size
//!   updated at I/O completion, as on XFS); a sector that kept its old content past the old
//!   end of the file reads as zeros. [`Keep::Part`] masks express these choices per write;
//!   `check.rs` derives them from per-sector choices (`sector_keeps`).
//! * **Names** (a file created, renamed, unlinked, a directory made) are durable once an
//!   `fsync` of the directory holding them returned after them. `fsync` of the file itself
//!   does not make its name durable. Un-synced name changes may each be applied or not, in
//!   any combination (so a later rename without an earlier one). A file whose directory's own
//!   entry did not survive is unreachable.
//!
//! The state at a cut point `k` is the base (the files before the run, all durable) with the
//! first `k` recorded calls applied as the chosen [`Keep`] of each un-synced one says.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::trace::Op;

/// The files and directories under the traced root.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Image {
    /// Directories, relative to the root.
    pub dirs: Vec<PathBuf>,
    /// Files, relative to the root, with their contents.
    pub files: BTreeMap<PathBuf, Vec<u8>>,
}

impl Image {
    /// Reads the real tree under `root` (the inode numbers are returned alongside, for the
    /// model to recognise the files the record refers to).
    pub fn read(root: &Path) -> (Image, HashMap<PathBuf, u64>) {
        let mut img = Image::default();
        let mut inos = HashMap::new();
        inos.insert(PathBuf::new(), fs::metadata(root).expect("stat root").ino());
        let mut stack = vec![root.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(&d).expect("read dir") {
                let e = e.expect("dir entry");
                let p = e.path();
                let md = fs::symlink_metadata(&p).expect("stat");
                let rel = p.strip_prefix(root).expect("under root").to_path_buf();
                inos.insert(rel.clone(), md.ino());
                if md.is_dir() {
                    img.dirs.push(rel);
                    stack.push(p);
                } else {
                    img.files.insert(rel, fs::read(&p).expect("read file"));
                }
            }
        }
        img.dirs.sort();
        (img, inos)
    }

    /// Writes the image into the empty directory `root`.
    pub fn materialize(&self, root: &Path) {
        for d in &self.dirs {
            fs::create_dir_all(root.join(d)).expect("create dir");
        }
        for (p, data) in &self.files {
            fs::write(root.join(p), data).expect("write file");
        }
    }

    /// A 64-bit fingerprint (FNV-1a over names and contents), to skip states already checked.
    pub fn fingerprint(&self) -> u64 {
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        let mut eat = |bytes: &[u8]| {
            for &b in bytes {
                h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
            }
            h = (h ^ 0xff).wrapping_mul(0x100_0000_01b3);
        };
        for d in &self.dirs {
            eat(d.as_os_str().as_encoded_bytes());
        }
        for (p, data) in &self.files {
            eat(p.as_os_str().as_encoded_bytes());
            eat(&(data.len() as u64).to_le_bytes());
            eat(data);
        }
        h
    }
}

/// What a crash keeps of one un-synced call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Keep {
    Yes,
    No,
    /// A write kept in part: sector `i` (of `gran` bytes, aligned to the file) is kept when
    /// `mask[i]`.
    Part {
        gran: u64,
        mask: Vec<bool>,
    },
}

/// What a recorded call is, for durability.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Changes the data of inode (model id).
    Data(u64),
    /// Changes the entries of directory (model id).
    Name(u64),
    /// Makes the inode (model id) durable: `fsync`, or `fdatasync` (`data_only`).
    Sync { ino: u64, data_only: bool },
    /// A marker or a plain open: no effect on the state.
    None,
}

/// A recorded run over a base image, ready to build crash states.
pub struct Model {
    pub base: Image,
    pub ops: Vec<Op>,
    /// Model inode id per op (recorded inode numbers renumbered so reuse cannot confuse them).
    class: Vec<Class>,
    /// Model inode id of the inode each op touches (files) — for data and name ops.
    target: Vec<u64>,
    /// Index of the first later op that makes op `i` durable (`usize::MAX`: none).
    pub cover: Vec<usize>,
    base_inodes: HashMap<PathBuf, u64>,
    root: PathBuf,
}

fn rel(root: &Path, p: &Path) -> Result<PathBuf, String> {
    p.strip_prefix(root)
        .map(Path::to_path_buf)
        .map_err(|_| format!("{} is outside the traced root", p.display()))
}

impl Model {
    /// Builds the model of `ops` recorded under `root`, over `base` (whose real inode numbers
    /// are `base_inos`).
    pub fn new(
        root: &Path,
        base: Image,
        base_inos: &HashMap<PathBuf, u64>,
        ops: Vec<Op>,
    ) -> Result<Model, String> {
        // Model ids: base entries get 1.., every created file or directory a fresh one; the
        // root directory is 0. `real` maps a recorded inode number to its current model id.
        let mut next = 1u64;
        let mut real: HashMap<u64, u64> = HashMap::new();
        let mut by_path: HashMap<PathBuf, u64> = HashMap::new();
        let mut base_inodes = HashMap::new();
        by_path.insert(PathBuf::new(), 0);
        let mut names: Vec<&PathBuf> = base_inos.keys().collect();
        names.sort();
        for p in names {
            if p.as_os_str().is_empty() {
                real.insert(base_inos[p], 0);
                continue;
            }
            real.insert(base_inos[p], next);
            by_path.insert(p.clone(), next);
            base_inodes.insert(p.clone(), next);
            next += 1;
        }
        let dir_of = |by_path: &HashMap<PathBuf, u64>, p: &Path| -> Result<u64, String> {
            let parent = p.parent().unwrap_or(Path::new(""));
            by_path
                .get(parent)
                .copied()
                .ok_or_else(|| format!("no directory {} in the model", parent.display()))
        };
        let mut class = Vec::with_capacity(ops.len());
        let mut target = Vec::with_capacity(ops.len());
        for op in &ops {
            let (c, t) = match op {
                Op::Open {
                    ino,
                    created,
                    truncated,
                    path,
                } => {
                    let r = rel(root, path)?;
                    if *created {
                        real.insert(*ino, next);
                        by_path.insert(r.clone(), next);
                        next += 1;
                        (Class::Name(dir_of(&by_path, &r)?), real[ino])
                    } else {
                        let id = *real
                            .get(ino)
                            .ok_or_else(|| format!("open of unknown {r:?}"))?;
                        if *truncated {
                            (Class::Data(id), id)
                        } else {
                            (Class::None, id)
                        }
                    }
                }
                Op::Write { ino, .. } | Op::Trunc { ino, .. } => {
                    let id = *real.get(ino).ok_or("write to an unknown inode")?;
                    (Class::Data(id), id)
                }
                Op::Fsync { ino } | Op::Fdatasync { ino } => {
                    let id = *real.get(ino).ok_or("sync of an unknown inode")?;
                    let data_only = matches!(op, Op::Fdatasync { .. });
                    (Class::Sync { ino: id, data_only }, id)
                }
                Op::Rename { ino, from, to } => {
                    let (f, t) = (rel(root, from)?, rel(root, to)?);
                    if f.parent() != t.parent() {
                        return Err(format!("rename across directories: {f:?} -> {t:?}"));
                    }
                    let id = *real.get(ino).ok_or("rename of an unknown inode")?;
                    by_path.remove(&f);
                    by_path.insert(t.clone(), id);
                    (Class::Name(dir_of(&by_path, &t)?), id)
                }
                Op::Unlink { ino, path } => {
                    let r = rel(root, path)?;
                    let id = *real.get(ino).ok_or("unlink of an unknown inode")?;
                    by_path.remove(&r);
                    (Class::Name(dir_of(&by_path, &r)?), id)
                }
                Op::Mkdir { ino, path } => {
                    let r = rel(root, path)?;
                    real.insert(*ino, next);
                    by_path.insert(r.clone(), next);
                    next += 1;
                    (Class::Name(dir_of(&by_path, &r)?), next - 1)
                }
                Op::Mark(_) => (Class::None, 0),
            };
            class.push(c);
            target.push(t);
        }
        let mut cover = vec![usize::MAX; ops.len()];
        for i in 0..ops.len() {
            let owner = match class[i] {
                Class::Data(id) | Class::Name(id) => id,
                _ => continue,
            };
            // Data is made durable by fsync or fdatasync of its file; a name by fsync (either
            // call, on a directory) of the directory holding it.
            cover[i] = (i + 1..ops.len())
                .find(|&j| matches!(class[j], Class::Sync { ino, .. } if ino == owner))
                .unwrap_or(usize::MAX);
        }
        Ok(Model {
            base,
            ops,
            class,
            target,
            cover,
            base_inodes,
            root: root.to_path_buf(),
        })
    }

    pub fn class(&self, i: usize) -> Class {
        self.class[i]
    }

    /// The ops before cut `k` that a crash at `k` may lose (data and name changes not yet made
    /// durable).
    pub fn unsynced(&self, k: usize) -> Vec<usize> {
        (0..k)
            .filter(|&i| {
                matches!(self.class[i], Class::Data(_) | Class::Name(_)) && self.cover[i] >= k
            })
            .collect()
    }

    /// The crash state at cut `k`, keeping each un-synced op as `keep` says (ops not in it are
    /// kept whole).
    pub fn state(&self, k: usize, keep: &HashMap<usize, Keep>) -> Image {
        #[derive(Clone, Copy, PartialEq)]
        enum Ent {
            File(u64),
            Dir,
        }
        let mut names: BTreeMap<PathBuf, Ent> = BTreeMap::new();
        let mut data: HashMap<u64, Vec<u8>> = HashMap::new();
        for d in &self.base.dirs {
            names.insert(d.clone(), Ent::Dir);
        }
        for (p, bytes) in &self.base.files {
            let id = self.base_inodes[p];
            names.insert(p.clone(), Ent::File(id));
            data.insert(id, bytes.clone());
        }
        for i in 0..k {
            let k_i = keep.get(&i).unwrap_or(&Keep::Yes);
            if *k_i == Keep::No {
                if let Op::Open { created: true, .. } = &self.ops[i] {
                    // The inode exists (its data may survive under a later name) even if
                    // this name does not.
                    data.entry(self.target[i]).or_default();
                }
                continue;
            }
            let id = self.target[i];
            match &self.ops[i] {
                Op::Open {
                    created,
                    truncated,
                    path,
                    ..
                } => {
                    if *created {
                        data.entry(id).or_default();
                        names.insert(rel(&self.root, path).expect("rel"), Ent::File(id));
                    } else if *truncated {
                        data.entry(id).or_default().clear();
                    }
                }
                Op::Write {
                    off, data: bytes, ..
                } => {
                    let f = data.entry(id).or_default();
                    let mut put = |at: u64, chunk: &[u8]| {
                        let end = at as usize + chunk.len();
                        if f.len() < end {
                            f.resize(end, 0);
                        }
                        f[at as usize..end].copy_from_slice(chunk);
                    };
                    match k_i {
                        Keep::Part { gran, mask } => {
                            for (s, (lo, hi)) in
                                sectors(*off, bytes.len() as u64, *gran).enumerate()
                            {
                                if mask.get(s).copied().unwrap_or(false) {
                                    put(lo, &bytes[(lo - off) as usize..(hi - off) as usize]);
                                }
                            }
                        }
                        _ => put(*off, bytes),
                    }
                }
                Op::Trunc { len, .. } => data.entry(id).or_default().resize(*len as usize, 0),
                Op::Rename { from, to, .. } => {
                    let (f, t) = (
                        rel(&self.root, from).expect("rel"),
                        rel(&self.root, to).expect("rel"),
                    );
                    if names.get(&f) == Some(&Ent::File(id)) {
                        names.remove(&f);
                    }
                    names.insert(t, Ent::File(id));
                }
                Op::Unlink { path, .. } => {
                    let r = rel(&self.root, path).expect("rel");
                    if names.get(&r) == Some(&Ent::File(id)) {
                        names.remove(&r);
                    }
                }
                Op::Mkdir { path, .. } => {
                    names.insert(rel(&self.root, path).expect("rel"), Ent::Dir);
                }
                Op::Fsync { .. } | Op::Fdatasync { .. } | Op::Mark(_) => {}
            }
        }
        // Only what is reachable: every ancestor directory's entry must exist.
        let reachable = |p: &Path| {
            p.ancestors()
                .skip(1)
                .filter(|a| !a.as_os_str().is_empty())
                .all(|a| names.get(a) == Some(&Ent::Dir))
        };
        let mut img = Image::default();
        for (p, e) in &names {
            if !reachable(p) {
                continue;
            }
            match e {
                Ent::Dir => img.dirs.push(p.clone()),
                Ent::File(id) => {
                    img.files
                        .insert(p.clone(), data.get(id).cloned().unwrap_or_default());
                }
            }
        }
        img
    }

    /// Checks that applying the whole record to the base gives exactly `real` (the files the
    /// run left): the record missed no call that changed a file.
    pub fn check_complete(&self, real: &Image) -> Result<(), String> {
        let all = self.state(self.ops.len(), &HashMap::new());
        if all.dirs != real.dirs {
            return Err(format!(
                "directories differ: model {:?}, real {:?}",
                all.dirs, real.dirs
            ));
        }
        let (a, b): (Vec<_>, Vec<_>) = (all.files.keys().collect(), real.files.keys().collect());
        if a != b {
            return Err(format!("files differ: model {a:?}, real {b:?}"));
        }
        for (p, d) in &all.files {
            if real.files[p] != *d {
                return Err(format!(
                    "contents of {} differ from the record",
                    p.display()
                ));
            }
        }
        Ok(())
    }
}

/// The `gran`-aligned sectors `[lo, hi)` a write of `len` bytes at `off` covers.
pub fn sectors(off: u64, len: u64, gran: u64) -> impl Iterator<Item = (u64, u64)> {
    let end = off + len;
    let mut at = off;
    std::iter::from_fn(move || {
        if at >= end {
            return None;
        }
        let hi = ((at / gran) + 1) * gran;
        let hi = hi.min(end);
        let r = (at, hi);
        at = hi;
        Some(r)
    })
}
