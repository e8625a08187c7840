//! Runtime mirror of the compile-time layout assertions (cache-line alignment,
//! sizes that are multiples of 64, every metric on its own line).

use std::mem::{align_of, offset_of, size_of};

use super::super::{HistogramSlot, Manager, SegmentPreloader, SegmentReader, Telemetry};

#[test]
fn components_are_cache_line_aligned_and_sized() {
    for (name, size, align) in [
        (
            "SegmentReader",
            size_of::<SegmentReader>(),
            align_of::<SegmentReader>(),
        ),
        (
            "SegmentPreloader",
            size_of::<SegmentPreloader>(),
            align_of::<SegmentPreloader>(),
        ),
        ("Manager", size_of::<Manager>(), align_of::<Manager>()),
        ("Telemetry", size_of::<Telemetry>(), align_of::<Telemetry>()),
    ] {
        assert_eq!(align, 64, "{name} alignment");
        assert_eq!(size % 64, 0, "{name} size {size}");
    }
    assert_eq!(size_of::<SegmentReader>(), 13 * 64);
    assert_eq!(size_of::<SegmentPreloader>(), 7 * 64);
    assert_eq!(
        size_of::<Manager>(),
        14 * 64 + 2 * size_of::<HistogramSlot>()
    );
    assert_eq!(size_of::<HistogramSlot>() % 64, 0);
}

#[test]
fn every_metric_starts_a_distinct_cache_line() {
    let reader = [
        offset_of!(SegmentReader, open_segment),
        offset_of!(SegmentReader, close_segment),
        offset_of!(SegmentReader, verify_segment),
        offset_of!(SegmentReader, build_index),
        offset_of!(SegmentReader, seek_event),
        offset_of!(SegmentReader, header_checksum_failures),
        offset_of!(SegmentReader, block_header_checksum_failures),
        offset_of!(SegmentReader, block_checksum_failures),
        offset_of!(SegmentReader, chained_checksum_failures),
        offset_of!(SegmentReader, validation_failures),
        offset_of!(SegmentReader, open_failures),
        offset_of!(SegmentReader, torn_tails),
        offset_of!(SegmentReader, bytes_verified),
    ];
    let manager = [
        offset_of!(Manager, read_segment_header),
        offset_of!(Manager, resume_from_event),
        offset_of!(Manager, seek_event),
        offset_of!(Manager, next_event),
        offset_of!(Manager, next_event_histogram),
        offset_of!(Manager, segment_handoff_histogram),
        offset_of!(Manager, fallback_opens),
        offset_of!(Manager, events_delivered),
        offset_of!(Manager, bytes_delivered),
        offset_of!(Manager, finished_ring_full_sync_closes),
        offset_of!(Manager, segments_total),
        offset_of!(Manager, segments_remaining),
        offset_of!(Manager, next_event_sample_every),
        offset_of!(Manager, replay_start_unix_ns),
        offset_of!(Manager, replay_start_mono_ns),
        offset_of!(Manager, replay_end_mono_ns),
    ];
    let preloader = [
        offset_of!(SegmentPreloader, preload_segment),
        offset_of!(SegmentPreloader, finish_segment),
        offset_of!(SegmentPreloader, segments_skipped),
        offset_of!(SegmentPreloader, skipped_bad_header),
        offset_of!(SegmentPreloader, skipped_corrupt),
        offset_of!(SegmentPreloader, skipped_io),
        offset_of!(SegmentPreloader, prepared_ring_full_wait_ns),
    ];
    for offsets in [&reader[..], &manager[..], &preloader[..]] {
        let mut lines: Vec<usize> = offsets
            .iter()
            .map(|o| {
                assert_eq!(o % 64, 0);
                o / 64
            })
            .collect();
        lines.sort_unstable();
        lines.dedup();
        assert_eq!(lines.len(), offsets.len(), "two metrics share a cache line");
    }
    // A heap-allocated tree is aligned too (Arc honours the type's alignment).
    let t = std::sync::Arc::new(Telemetry::new());
    assert_eq!(&t.manager as *const Manager as usize % 64, 0);
}
