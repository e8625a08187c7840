/*
 * The header compiles on its own, as the first and only include of a translation unit: every
 * type it uses comes from its own includes. Linked with double_include.c: two translation units
 * including the header define nothing twice.
 */
#include "wal_recovery.h"

int header_alone_probe(void);

int header_alone_probe(void) {
    wal_event ev;
    wal_recovery_options ro;
    wal_writer_options wo;
    wal_recovery *h = NULL;
    wal_writer *w = NULL;
    wal_status s = WAL_OK;
    wal_mode m = WAL_MODE_SKIP_CORRUPTED;
    ev.event_id = 1;
    ev.data = NULL;
    ev.len = 0;
    ro.struct_size = (uint32_t)sizeof ro;
    wo.struct_size = (uint32_t)sizeof wo;
    (void)h;
    (void)w;
    return (int)(ev.event_id + ev.len + ro.struct_size + wo.struct_size + s + m);
}
