//! The event type handed to callers: an id and a payload borrowed from the segment mapping.

/// One replayed event. `payload` borrows the read-only mapping of its segment: no copy is made,
/// and it stays valid until the next call that moves the replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event<'a> {
    /// The event id (contiguous across the log; never 0).
    pub id: u64,
    /// The payload bytes exactly as appended.
    pub payload: &'a [u8],
}

/// A batch callback that ignores each event's place in the batch: how the `next_batch_with`
/// methods hand their callback to `next_batch_indexed`.
#[inline(always)]
pub(crate) fn ignoring_place<'a>(mut f: impl FnMut(Event<'a>)) -> impl FnMut(usize, Event<'a>) {
    move |_, e| f(e)
}
