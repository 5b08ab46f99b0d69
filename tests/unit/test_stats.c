/* mod_taskboard: a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

#include <apr_atomic.h>
#include <apr_strings.h>

#include "tb_test.h"
#include "tb_stats.h"

void test_stats(void)
{
    tb_stats_slot_t *slots = apr_pcalloc(tb_test_pool, sizeof(*slots)
                                                       * TB_STATS_SLOTS);
    tb_req_stats_t req;
    tb_stats_slot_t *a, *b;
    tb_membuf_t mb;
    tb_jw_t jw;
    tb_stats_process_t proc;
    int i;

    /* buckets: 100 us, then steps of sqrt(2); the last takes the rest */
    CHECK(tb_stats_bucket_limit(0) == 100 && tb_stats_bucket_limit(1) == 141);
    CHECK(tb_stats_bucket_limit(2) == 200 && tb_stats_bucket_limit(20) == 102400);
    CHECK(tb_stats_bucket(0) == 0 && tb_stats_bucket(99) == 0);
    CHECK(tb_stats_bucket(100) == 1 && tb_stats_bucket(150) == 2);
    CHECK(tb_stats_bucket(apr_time_from_sec(3600)) == TB_STATS_BUCKETS - 1);

    /* a label gets one slot, found again; slot 0 is "(other)" */
    tb_stats_init(slots);
    a = tb_stats_find(slots, "/api/load");
    b = tb_stats_find(slots, "/api/sync");
    CHECK(a != b && a != &slots[0] && b != &slots[0]);
    CHECK(tb_stats_find(slots, "/api/load") == a);
    CHECK(tb_stats_find(slots, "/api/loadx") != a);
    CHECK_STR(slots[0].path, "(other)");
    /* a slot left half-claimed (its process died then) is passed over */
    apr_atomic_set32(&slots[3].state, 1);
    CHECK(tb_stats_find(slots, "/after a dead claim") == &slots[4]);
    for (i = 0; i < TB_STATS_SLOTS; i++) {
        tb_stats_find(slots, apr_psprintf(tb_test_pool, "/l%d", i));
    }
    CHECK(tb_stats_find(slots, "/one too many") == &slots[0]);
    CHECK(tb_stats_find(slots, "/api/sync") == b);

    /* counters and percentiles: 90 fast loads, 10 slow ones */
    memset(&req, 0, sizeof(req));
    req.kind = TB_STATS_LOAD;
    req.cache_hit = 1;
    for (i = 0; i < 90; i++) {
        tb_stats_add(a, &req, 200, 150);
    }
    req.cache_hit = 0;
    req.db_errors = 1;
    for (i = 0; i < 10; i++) {
        tb_stats_add(a, &req, 500, apr_time_from_msec(30));
    }
    CHECK(a->requests == 100 && a->loads == 100 && a->cache_hits == 90);
    CHECK(a->errors == 10 && a->db_errors == 10 && a->conflicts == 0);
    CHECK(tb_stats_percentile(a, 0.5) == 200);
    CHECK(tb_stats_percentile(a, 0.9) == 200);
    CHECK(tb_stats_percentile(a, 0.99) >= apr_time_from_msec(30));
    CHECK(tb_stats_percentile(b, 0.5) == 0);
    /* event streams count, without latency */
    memset(&req, 0, sizeof(req));
    req.kind = TB_STATS_EVENTS;
    tb_stats_add(b, &req, 200, apr_time_from_sec(300));
    CHECK(b->events == 1 && tb_stats_percentile(b, 0.5) == 0);
    req.kind = TB_STATS_SYNC;
    req.rows_written = 7;
    req.rollbacks = 1;
    tb_stats_add(b, &req, 409, 800);
    CHECK(b->syncs == 1 && b->conflicts == 1 && b->rows_written == 7
          && b->rollbacks == 1);

    tb_membuf_init(&mb, tb_test_pool);
    tb_jw_init(&jw, tb_membuf_sink, &mb);
    tb_stats_write_json(&jw, slots, NULL);
    tb_jw_flush(&jw);
    CHECK(strstr(mb.buf, "{\"path\":\"/api/sync\",\"requests\":2,\"loads\":0,"
                 "\"syncs\":1,\"events\":1,\"errors\":1,\"conflicts\":1,"
                 "\"rowsWritten\":7,\"rollbacks\":1,\"cacheHits\":0,"
                 "\"dbErrors\":0,\"latencyMs\":{\"p50\":1.1,\"p90\":1.1,"
                 "\"p99\":1.1}}") != NULL);
    CHECK(strncmp(mb.buf, "{\"locations\":[{\"path\":\"(other)\"", 31) == 0);
    CHECK(strstr(mb.buf, "process") == NULL);

    /* the answering process's own numbers, after the summed ones */
    memset(&proc, 0, sizeof(proc));
    proc.pid = 4242;
    proc.event_streams = 3;
    proc.event_streams_max = 8;
    proc.event_streams_client = 4;
    proc.event_feeds = 2;
    tb_membuf_init(&mb, tb_test_pool);
    tb_jw_init(&jw, tb_membuf_sink, &mb);
    tb_stats_write_json(&jw, slots, &proc);
    tb_jw_flush(&jw);
    CHECK(strstr(mb.buf, "}}],\"process\":{\"pid\":4242,\"eventStreams\":3,"
                 "\"eventStreamsMax\":8,\"eventStreamsPerClient\":4,"
                 "\"eventFeeds\":2}}") != NULL);
}
