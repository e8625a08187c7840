// The C++ header included twice in one translation unit, and parts of it before and after it
// (every include guard holds), linked with header_alone.cpp, another translation unit including it.
#include "wal_recovery/manager.hpp"
#include "wal_recovery.hpp"
#include "wal_recovery.hpp"
#include "wal_recovery/status.hpp"
#include "wal_recovery/writer.hpp"

#include <cstdio>

int header_alone_probe();

int main() {
    if (wal::abi_version() != WAL_RECOVERY_ABI_VERSION) {
        std::fprintf(stderr, "ABI mismatch\n");
        return 1;
    }
    // struct_size 40 + capacity 4 + ok 1 + SkipCorrupted 2
    if (header_alone_probe() != 40 + 4 + 1 + WAL_MODE_SKIP_CORRUPTED) {
        std::fprintf(stderr, "probe mismatch: %d\n", header_alone_probe());
        return 1;
    }
    std::printf("double_include (C++%ld, span: %s): ok\n", static_cast<long>(__cplusplus / 100 % 100),
                WAL_RECOVERY_STD_SPAN ? "std::span" : "wal::View");
    return 0;
}
