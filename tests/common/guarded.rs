//! Runs a closure on its own thread, inside `catch_unwind`, with a time limit: the fault suites'
//! "no panic, no hang" checks. A hung closure's thread is abandoned (threads cannot be killed);
//! the caller must then leave whatever it uses alone. Included by path by the hardening and
//! FlashStrike test support modules.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

/// How a guarded run ended.
pub enum Guarded<T> {
    /// It returned this.
    Done(T),
    /// It panicked with this message.
    Panicked(String),
    /// It did not return within the limit.
    Hung,
}

/// The message of a caught panic.
pub fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic".into())
}

/// Runs `f` on a thread named `name`, waiting at most `limit` for it.
pub fn guarded<T: Send + 'static>(
    name: &str,
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Guarded<T> {
    let (tx, rx) = mpsc::channel();
    let h = thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let r = catch_unwind(AssertUnwindSafe(f));
            let _ = tx.send(r.map_err(|p| panic_text(&*p)));
        })
        .expect("spawn guarded thread");
    match rx.recv_timeout(limit) {
        Ok(Ok(o)) => {
            let _ = h.join();
            Guarded::Done(o)
        }
        Ok(Err(p)) => {
            let _ = h.join();
            Guarded::Panicked(p)
        }
        Err(RecvTimeoutError::Timeout) => Guarded::Hung,
        Err(RecvTimeoutError::Disconnected) => {
            Guarded::Panicked("guarded thread died without a result".into())
        }
    }
}
