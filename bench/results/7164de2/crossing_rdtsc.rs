//! Times the crossing next() and an ordinary next() 500 events before each boundary, with rdtsc.
use wal_recovery::{Manager, RecoveryOptions};
#[inline(always)]
fn tsc() -> u64 { unsafe { core::arch::x86_64::_rdtsc() } }
fn main() {
    let dir = std::env::args().nth(1).unwrap();
    let passes: usize = std::env::args().nth(2).map_or(10, |s| s.parse().unwrap());
    let t0 = tsc(); let i0 = std::time::Instant::now();
    std::thread::sleep(std::time::Duration::from_millis(100));
    let ghz = (tsc() - t0) as f64 / i0.elapsed().as_nanos() as f64;
    let mut v: Vec<u64> = Vec::new();
    let mut fl: Vec<u64> = Vec::new();
    let mut events = 0u64; let mut secs = 0f64;
    for _ in 0..passes {
        let mut m = Manager::open(&dir, RecoveryOptions::default()).unwrap();
        let mut firsts: Vec<u64> = m.scan().segments().iter().filter_map(|f| f.header.map(|h| h.first_event_id)).collect();
        firsts.sort_unstable();
        let mut b = firsts.into_iter().skip(1);
        let mut nb = b.next().unwrap_or(u64::MAX);
        let mut expect = 1u64;
        let mut acc = 0u64;
        let st = std::time::Instant::now();
        loop {
            let crossing = expect == nb;
            let mid = nb != u64::MAX && expect + 500 == nb;
            let timed = crossing || mid;
            let tb = if timed { tsc() } else { 0 };
            let r = m.next();
            if timed {
                let d = tsc() - tb;
                if crossing { v.push(d); nb = b.next().unwrap_or(u64::MAX); } else { fl.push(d); }
            }
            match r {
                Ok(Some(ev)) => { acc = acc.wrapping_add(ev.payload[0] as u64); expect = ev.id + 1; }
                Ok(None) => break,
                Err(e) => panic!("{e}"),
            }
        }
        secs += st.elapsed().as_secs_f64();
        events += expect - 1;
        std::hint::black_box(acc);
    }
    let ns = |c: u64| (c as f64 / ghz).round() as u64;
    let mut v: Vec<u64> = v.into_iter().map(ns).collect();
    let mut fl: Vec<u64> = fl.into_iter().map(ns).collect();
    v.sort_unstable(); fl.sort_unstable();
    let q = |x: &Vec<u64>, p: f64| x[((x.len() - 1) as f64 * p).round() as usize];
    println!("crossing p50 {} p90 {} p99 {} max {} n {} | floor p50 {} p99 {} | {:.1} M ev/s",
        q(&v, 0.5), q(&v, 0.9), q(&v, 0.99), q(&v, 1.0), v.len(), q(&fl, 0.5), q(&fl, 0.99), events as f64 / secs / 1e6);
}
