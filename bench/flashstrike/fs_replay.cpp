// Driver: FlashStrike's own WAL recovery (Wirekrak 66c130b, integrations/include/flashstrike/wal/recovery/manager.hpp)
// replaying a directory. Times initialize() + resume_from_event(1) + next() loop until not-OK.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>
#include <signal.h>

#include "flashstrike/wal/recovery/manager.hpp"

using namespace flashstrike;
using namespace flashstrike::wal;

static void on_alarm(int) {
    static const char msg[] = "WATCHDOG: replay did not finish within 60 s (hang)\n";
    (void)!write(2, msg, sizeof(msg) - 1);
    _exit(3);
}

static recovery::Telemetry g_telemetry;  // must outlive the Manager

int main(int argc, char** argv) {
    if (argc < 2) { std::fprintf(stderr, "usage: %s DIR [--dump]\n", argv[0]); return 2; }
    signal(SIGALRM, on_alarm);
    alarm(60);
    // Silence per-segment WK_TRACE lines (default level is Trace on stdout); the strings are
    // still built, as shipped. Only the runtime filter level changes.
    lcr::log::Logger::instance().set_level(lcr::log::Level::Warn);
    // One-time TSC calibration of lcr's clock sleeps 50 ms on first use; an application has it
    // running already, so pay it before the timer (the metrics build uses it inside recovery).
    (void)monotonic_clock::instance().now_ns();

    auto* mgr = new recovery::Manager(argv[1], g_telemetry);
    RequestEvent ev{};
    uint64_t n = 0, sum = 0;

    auto t0 = std::chrono::steady_clock::now();
    Status st = mgr->initialize();
    if (st != Status::OK) { std::fprintf(stderr, "initialize: %s\n", to_string(st)); return 1; }
    st = mgr->resume_from_event(1);
    if (st != Status::OK) { std::fprintf(stderr, "resume_from_event(1): %s\n", to_string(st)); return 1; }
    while ((st = mgr->next(ev)) == Status::OK) {
        sum += ev.event_id;
        ++n;
    }
    auto t1 = std::chrono::steady_clock::now();
    alarm(0);

    double s = std::chrono::duration<double>(t1 - t0).count();
#ifdef ENABLE_FS1_METRICS
    const char* variant = "flashstrike-metrics";
#else
    const char* variant = "flashstrike-nometrics";
#endif
    std::printf("%s events=%llu id_sum=%llu seconds=%.6f Mev_per_s=%.2f end_status=%s\n", variant,
                (unsigned long long)n, (unsigned long long)sum, s, n / s / 1e6, to_string(st));
    if (argc > 2) g_telemetry.dump("fs_replay", std::cout);
    // Teardown outside the timer. Readers left in finished_ring_ close in destructors.
    delete mgr;
    return 0;
}
