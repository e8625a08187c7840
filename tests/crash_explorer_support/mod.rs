//! The crash-state explorer's parts (`tests/crash_explorer.rs`): the record of a run
//! ([`trace`], made by the `LD_PRELOAD` shim `shim.c`), the persistence model that turns it into
//! crash states ([`model`]), the workloads ([`workload`]) and the checker ([`check`]).
#![allow(dead_code)]

#[path = "../common/env.rs"]
mod env;
#[path = "../common/rng.rs"]
mod rng;
pub use env::{env_count, env_seed, tempdir_with_prefix};
pub use rng::Rng;

pub mod check;
pub mod model;
pub mod trace;
pub mod workload;
