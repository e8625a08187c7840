//! `--busy-core`: a CPU hog that keeps one core busy for the whole run, so that the figures
//! show what replay does on a loaded host (the "another process keeps one core busy",
//! made reproducible).
//!
//! The hog is a thread of this process spinning on arithmetic until the run ends. To the Linux
//! scheduler a thread competes like a process of the same session does, so it takes one core's
//! share from the replay and its preloader as `python3 -c 'while True: pass'` would.

use std::{
    hint::black_box,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    thread::JoinHandle,
};

/// A running hog; dropping it stops the thread and joins it.
#[derive(Debug)]
pub struct Hog {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<u64>>,
}

impl Hog {
    /// Starts the hog.
    pub fn start() -> std::io::Result<Hog> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("busy-core".into())
            .spawn(move || {
                let mut x = 0x9E37_79B9_7F4A_7C15u64;
                while !flag.load(Ordering::Relaxed) {
                    for _ in 0..4096 {
                        x = black_box(x.rotate_left(7) ^ x.wrapping_mul(31));
                    }
                }
                x
            })?;
        Ok(Hog {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Hog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
