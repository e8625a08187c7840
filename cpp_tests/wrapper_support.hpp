// Test support shared by the wrapper tests (cpp_tests/wrapper_*.cpp): CHECK/REQUIRE, a scratch
// directory, the deterministic payloads and the native log written with them, byte helpers to
// damage a log, the same replay through the C API, and the tests' common main().
#ifndef WAL_RECOVERY_WRAPPER_SUPPORT_HPP
#define WAL_RECOVERY_WRAPPER_SUPPORT_HPP

#include "wal_recovery.hpp"

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <sys/stat.h>
#include <utility>
#include <vector>

namespace wrapper_test {

using wal::Status;
using wal::recovery::Event;
using wal::recovery::Manager;
using wal::recovery::Mode;
using wal::recovery::Options;

inline int failures = 0;

#define CHECK(cond)                                                                       \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            ::wrapper_test::failures++;                                                   \
        }                                                                                 \
    } while (0)

#define REQUIRE(cond)                                                                       \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            std::fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond); \
            std::exit(1);                                                                   \
        }                                                                                   \
    } while (0)

inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

inline std::string scratch_root;  // argv[1]
inline std::string scratch(const std::string& name) {
    std::string d = scratch_root + "/" + name;
    REQUIRE(::mkdir(d.c_str(), 0755) == 0 || errno == EEXIST);
    return d;
}

// Payload of event `id`: 8 bytes of id (LE) then (id*31 + k*17) % 251, length 8 + id % 41.
inline std::vector<std::uint8_t> payload(std::uint64_t id) {
    std::vector<std::uint8_t> p(8 + id % 41);
    for (std::size_t k = 0; k < p.size(); k++) {
        p[k] = k < 8 ? static_cast<std::uint8_t>(id >> (8 * k)) : static_cast<std::uint8_t>((id * 31 + k * 17) % 251);
    }
    return p;
}

inline bool payload_ok(const Event& ev) {
    std::vector<std::uint8_t> want = payload(ev.id);
    return ev.payload.size() == want.size() && std::memcmp(ev.payload.data(), want.data(), want.size()) == 0;
}

inline constexpr std::uint64_t kEvents = 20000;

// A native log of kEvents events in 16 KiB segments, through wal::recovery::Writer.
inline void write_log(const std::string& dir) {
    wal::recovery::WriterOptions wo;
    wo.segment_bytes = 16 * 1024;
    wo.block_bytes = 2048;
    auto w = wal::recovery::Writer::open(dir, wo);
    REQUIRE(w.ok());
    REQUIRE(w->valid() && w->native_handle() != nullptr);
    for (std::uint64_t i = 1; i <= kEvents; i++) {
        std::vector<std::uint8_t> p = payload(i);
        auto id = (i % 2) ? w->append(wal::Bytes(p.data(), p.size())) : w->append(p.data(), p.size());
        REQUIRE(id.ok() && *id == i);
        if (i == kEvents / 2) {
            CHECK(w->sync().ok());
        }
    }
    Status s = w->close();
    CHECK(s.ok());
    CHECK(!w->valid());
}

inline std::uint64_t read_u64(const std::string& path, long offset) {
    std::ifstream f(path, std::ios::binary);
    REQUIRE(f.good());
    f.seekg(offset);
    unsigned char b[8];
    f.read(reinterpret_cast<char*>(b), 8);
    REQUIRE(f.good());
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | b[i];
    return v;
}

inline void flip_byte(const std::string& path, long offset) {
    std::FILE* f = std::fopen(path.c_str(), "r+b");
    REQUIRE(f != nullptr);
    REQUIRE(std::fseek(f, offset, SEEK_SET) == 0);
    int c = std::fgetc(f);
    REQUIRE(c != EOF);
    REQUIRE(std::fseek(f, offset, SEEK_SET) == 0);
    REQUIRE(std::fputc(c ^ 0xff, f) != EOF);
    REQUIRE(std::fclose(f) == 0);
}

inline std::string segment(const std::string& dir, unsigned seq) {
    char name[64];
    std::snprintf(name, sizeof name, "/%020u.wal", seq);
    return dir + name;
}

// The same replay through the C API: (delivered, final status).
inline std::pair<std::uint64_t, wal_status> c_replay(const std::string& dir, wal_mode mode) {
    wal_recovery_options o;
    REQUIRE(wal_recovery_options_init_sized(&o, sizeof o) == WAL_OK);
    o.mode = mode;
    wal_recovery* h = nullptr;
    REQUIRE(wal_recovery_open(dir.c_str(), &o, &h) == WAL_OK);
    wal_event ev;
    wal_status s;
    std::uint64_t n = 0;
    while ((s = wal_recovery_next(h, &ev)) == WAL_OK) n++;
    wal_recovery_close(h);
    return {n, s};
}

/// The main() of a wrapper test: `<name> <empty scratch directory> <tests/data/flashstrike>`.
/// Runs `tests(samples_dir)`, then reports; exit 0 when every check passed.
template <class Tests>
int run(const char* name, int argc, char** argv, Tests&& tests) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s <empty scratch dir> <tests/data/flashstrike>\n", argv[0]);
        return 2;
    }
    scratch_root = argv[1];
    tests(std::string(argv[2]));
    if (failures != 0) {
        std::fprintf(stderr, "%s: %d check(s) failed\n", name, failures);
        return 1;
    }
    std::printf("%s (C++%ld, %s, %s): every check passed\n", name, static_cast<long>(__cplusplus / 100 % 100),
                WAL_RECOVERY_STD_SPAN ? "std::span" : "wal::View",
#ifdef WAL_RECOVERY_EXCEPTIONS
                "exceptions"
#else
                "no exceptions"
#endif
    );
    return 0;
}

}  // namespace wrapper_test

#endif  // WAL_RECOVERY_WRAPPER_SUPPORT_HPP
