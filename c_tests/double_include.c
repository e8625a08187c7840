/* The header included twice in one translation unit (the include guard holds), and linked with
 * header_alone.c, another translation unit including it. */
#include "wal_recovery.h"
#include "wal_recovery.h"

#include <stdio.h>

int header_alone_probe(void);

int main(void) {
    if (wal_abi_version() != WAL_RECOVERY_ABI_VERSION) {
        fprintf(stderr, "ABI mismatch\n");
        return 1;
    }
    if (header_alone_probe() != 1 + 40 + 24 + 0 + WAL_MODE_SKIP_CORRUPTED) {
        fprintf(stderr, "probe mismatch\n");
        return 1;
    }
    printf("double_include: ok\n");
    return 0;
}
