//! Unit tests of the tail that need to act between its steps.

use super::*;
use crate::{Writer, WriterOptions};

fn next_id(tail: &mut Tail) -> Option<u64> {
    match tail.fill().expect("fill") {
        Step::Ready => tail.next_record().map(|(id, _, _)| id),
        Step::Pending => None,
        Step::Damage(d) => panic!("damage: {}", d.error),
    }
}

/// A roll made between the two looks of a poll (the writer seals segment 1, then creates
/// segment 2) is the clean end of segment 1, whichever look comes first in time. Fails if
/// `moved_past` reads the header before it looks for the next segment.
#[test]
fn a_roll_between_the_two_looks_is_a_clean_end_not_damage() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let mut w = Writer::open(&dir, WriterOptions::default()).unwrap();
    w.append(b"one").unwrap();
    w.flush().unwrap();
    let mut tail = Tail::new(&dir, Start::default());
    assert_eq!(next_id(&mut tail), Some(1));
    // Idle polls; the next one looks for the next segment (see PROOF_EVERY).
    for _ in 0..PROOF_EVERY {
        assert_eq!(next_id(&mut tail), None);
    }
    let mut writer = Some(w);
    let log = dir.clone();
    tail.between_looks = Some(Hook(Box::new(move || {
        if let Some(w) = writer.take() {
            w.close().unwrap(); // seals segment 1
            let mut w = Writer::open(&log, WriterOptions::default()).unwrap();
            w.append(b"two").unwrap();
            w.flush().unwrap(); // segment 2 exists, with event 2
            w.close().unwrap();
        }
    })));
    assert_eq!(next_id(&mut tail), Some(2));
    assert_eq!(next_id(&mut tail), None);
}
