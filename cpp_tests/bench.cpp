// Overhead of the C++ API: the range-for replay of wal_recovery.hpp against the C per-event loop
// (bench_c_loop.c) over the same log, in one process, interleaved (C, C++, C++, C, ...), each
// repetition on a freshly opened handle. Only the loop is timed (open and close are not). Prints
// each repetition, the medians in ns/event and Mevents/s, and the ratio
// C++ throughput / C throughput (>= 0.95 is the goal; 1.0 = no overhead).
//
// Usage: bench LOG_DIR REPS   (built and run by `bash scripts/cpp.sh bench`)
#include "wal_recovery.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

extern "C" std::uint64_t bench_c_loop(wal_recovery* h, std::uint64_t* events);

namespace {

struct Run {
    double seconds;
    std::uint64_t events, sum;
};

wal::recovery::Manager open_or_die(const char* dir) {
    auto m = wal::recovery::Manager::open(dir);
    if (!m) {
        std::fprintf(stderr, "bench: %s\n", m.error().to_string().c_str());
        std::exit(1);
    }
    return std::move(*m);
}

Run run_c(const char* dir) {
    wal::recovery::Manager m = open_or_die(dir);  // the same open; the loop is plain C
    Run r{};
    auto t0 = std::chrono::steady_clock::now();
    r.sum = bench_c_loop(m.native_handle(), &r.events);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return r;
}

Run run_cpp(const char* dir) {
    wal::recovery::Manager m = open_or_die(dir);
    Run r{};
    auto t0 = std::chrono::steady_clock::now();
    std::uint64_t sum = 0, n = 0;
    for (const auto& ev : m.events()) {
        sum += ev.id ^ static_cast<std::uint64_t>(ev.payload.size()) ^ ev.payload[ev.payload.size() - 1];
        n++;
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!m.status().ok()) {
        std::fprintf(stderr, "bench: C++ loop: %s\n", m.status().to_string().c_str());
        std::exit(1);
    }
    r.sum = sum;
    r.events = n;
    return r;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s LOG_DIR REPS\n", argv[0]);
        return 2;
    }
    const char* dir = argv[1];
    const int reps = std::atoi(argv[2]);
    if (reps < 1) return 2;
    (void)run_c(dir);  // warm the page cache and the library
    std::vector<double> c_ns, cpp_ns;
    std::uint64_t events = 0;
    for (int rep = 0; rep < reps; rep++) {
        Run a, b;
        if (rep % 2 == 0) {
            a = run_c(dir);
            b = run_cpp(dir);
        } else {
            b = run_cpp(dir);
            a = run_c(dir);
        }
        if (a.events == 0 || a.events != b.events || a.sum != b.sum) {
            std::fprintf(stderr, "bench: the loops disagree (C %llu events sum %llu, C++ %llu events sum %llu)\n",
                         static_cast<unsigned long long>(a.events), static_cast<unsigned long long>(a.sum),
                         static_cast<unsigned long long>(b.events), static_cast<unsigned long long>(b.sum));
            return 1;
        }
        events = a.events;
        c_ns.push_back(a.seconds * 1e9 / static_cast<double>(a.events));
        cpp_ns.push_back(b.seconds * 1e9 / static_cast<double>(b.events));
        std::printf("rep %2d: C %.2f ns/event, C++ range-for %.2f ns/event\n", rep + 1, c_ns.back(), cpp_ns.back());
    }
    const double c = median(c_ns), cpp = median(cpp_ns);
    std::printf("events per replay      : %llu\n", static_cast<unsigned long long>(events));
    std::printf("C per-event loop       : %.2f ns/event, %.1f Mevents/s (median of %d)\n", c, 1e3 / c, reps);
    std::printf("C++ range-for          : %.2f ns/event, %.1f Mevents/s (median of %d)\n", cpp, 1e3 / cpp, reps);
    std::printf("ratio C++/C throughput : %.3f (goal >= 0.95)\n", c / cpp);
    return 0;
}
