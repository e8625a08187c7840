// The minimal contract of the C++ API (issue 16), exactly as an external consumer writes it,
// compiled with -Wall -Wextra -Wpedantic -Werror under C++17 and C++20 by scripts/cpp.sh.
// Usage: contract LOG_DIR; prints "<events> <id sum> <bytes> <status name>" and the telemetry.
#include <wal_recovery.hpp>

#include <cstdint>
#include <iostream>
#include <sstream>

static std::uint64_t events, id_sum, bytes;
static void use(std::uint64_t id, const std::uint8_t* data, std::size_t size) {
    events++;
    id_sum += id;
    bytes += size;
    (void)data;
}

int main(int argc, char** argv) {
    if (argc != 2) return 2;
    const char* dir = argv[1];
    // --- the contract ---
    auto m = wal::recovery::Manager::open(dir);          // wal::Result<wal::recovery::Manager>
    if (!m) { std::cerr << m.error().message() << "\n"; return 1; }
    for (const auto& ev : m->events()) use(ev.id, ev.payload.data(), ev.payload.size());
    wal::Status s = m->status();                         // s.ok(): clean end; else s.code(), s.message()
    std::ostringstream os; m->telemetry().dump("replay", os);
    // --- end ---
    std::cout << events << " " << id_sum << " " << bytes << " " << s.name() << "\n" << os.str();
    return s.ok() ? 0 : 1;
}
