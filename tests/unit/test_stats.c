/* test_stats.c: unit cases of the status counters (tb_stats.c).
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/* tb_stats.c: the status page's slots, counters, latency buckets and
 * JSON. */

#include <apr_atomic.h>
#include <apr_strings.h>

#include "tb_test.h"
#include "tb_stats.h"

static tb_stats_slot_t *new_slots(void)
{
    tb_stats_slot_t *slots = apr_pcalloc(tb_test_pool, sizeof(*slots)
                                                       * TB_STATS_SLOTS);

    tb_stats_init(slots);
    return slots;
}

/* 90 fast loads from the cache, 10 slow ones with a database error */
static void add_loads(tb_stats_slot_t *slot)
{
    tb_req_stats_t req;
    int i;

    memset(&req, 0, sizeof(req));
    req.kind = TB_STATS_LOAD;
    req.cache_hit = 1;
    for (i = 0; i < 90; i++) {
        tb_stats_add(slot, &req, 200, 150);
    }
    req.cache_hit = 0;
    req.db_errors = 1;
    for (i = 0; i < 10; i++) {
        tb_stats_add(slot, &req, 500, apr_time_from_msec(30));
    }
}

/* an event stream of five minutes */
static void add_event_stream(tb_stats_slot_t *slot)
{
    tb_req_stats_t req;

    memset(&req, 0, sizeof(req));
    req.kind = TB_STATS_EVENTS;
    tb_stats_add(slot, &req, 200, apr_time_from_sec(300));
}

/* a sync refused as a conflict after writing 7 rows */
static void add_conflict(tb_stats_slot_t *slot)
{
    tb_req_stats_t req;

    memset(&req, 0, sizeof(req));
    req.kind = TB_STATS_SYNC;
    req.rows_written = 7;
    req.rollbacks = 1;
    tb_stats_add(slot, &req, 409, 800);
}

/* The status JSON of /api/load with add_loads and /api/sync with an
 * event stream and a conflict; proc as tb_stats_write_json takes it. */
static const char *status_json(tb_stats_process_t *proc)
{
    tb_stats_slot_t *slots = new_slots();
    tb_membuf_t mb;
    tb_jw_t jw;

    add_loads(tb_stats_find(slots, "/api/load"));
    add_event_stream(tb_stats_find(slots, "/api/sync"));
    add_conflict(tb_stats_find(slots, "/api/sync"));
    tb_membuf_init(&mb, tb_test_pool);
    tb_jw_init(&jw, tb_membuf_sink, &mb);
    tb_stats_write_json(&jw, slots, proc);
    tb_jw_flush(&jw);
    return mb.buf;
}

/* 100 us, then steps of sqrt(2); the last takes the rest */
static void buckets(void)
{
    CHECK(tb_stats_bucket_limit(0) == 100 && tb_stats_bucket_limit(1) == 141);
    CHECK(tb_stats_bucket_limit(2) == 200 && tb_stats_bucket_limit(20) == 102400);
    CHECK(tb_stats_bucket(0) == 0 && tb_stats_bucket(99) == 0);
    CHECK(tb_stats_bucket(100) == 1 && tb_stats_bucket(150) == 2);
    CHECK(tb_stats_bucket(apr_time_from_sec(3600)) == TB_STATS_BUCKETS - 1);
}

/* slot 0 is "(other)" */
static void one_slot_per_label(void)
{
    tb_stats_slot_t *slots = new_slots();
    tb_stats_slot_t *a = tb_stats_find(slots, "/api/load");
    tb_stats_slot_t *b = tb_stats_find(slots, "/api/sync");

    CHECK(a != b && a != &slots[0] && b != &slots[0]);
    CHECK(tb_stats_find(slots, "/api/load") == a);
    CHECK(tb_stats_find(slots, "/api/loadx") != a);
    CHECK_STR(slots[0].path, "(other)");
}

/* its process died while claiming it */
static void half_claimed_slot_passed_over(void)
{
    tb_stats_slot_t *slots = new_slots();

    tb_stats_find(slots, "/api/load");
    tb_stats_find(slots, "/api/sync");
    apr_atomic_set32(&slots[3].state, 1);
    CHECK(tb_stats_find(slots, "/after a dead claim") == &slots[4]);
}

static void full_table(void)
{
    tb_stats_slot_t *slots = new_slots();
    tb_stats_slot_t *b;
    int i;

    tb_stats_find(slots, "/api/load");
    b = tb_stats_find(slots, "/api/sync");
    for (i = 0; i < TB_STATS_SLOTS; i++) {
        tb_stats_find(slots, apr_psprintf(tb_test_pool, "/l%d", i));
    }
    CHECK(tb_stats_find(slots, "/one too many") == &slots[0]);
    CHECK(tb_stats_find(slots, "/api/sync") == b);
}

static void counters_and_percentiles(void)
{
    tb_stats_slot_t *slots = new_slots();
    tb_stats_slot_t *a = tb_stats_find(slots, "/api/load");
    tb_stats_slot_t *b = tb_stats_find(slots, "/api/sync");

    add_loads(a);
    CHECK(a->requests == 100 && a->loads == 100 && a->cache_hits == 90);
    CHECK(a->errors == 10 && a->db_errors == 10 && a->conflicts == 0);
    CHECK(tb_stats_percentile(a, 0.5) == 200);
    CHECK(tb_stats_percentile(a, 0.9) == 200);
    CHECK(tb_stats_percentile(a, 0.99) >= apr_time_from_msec(30));
    CHECK(tb_stats_percentile(b, 0.5) == 0);
}

static void event_streams_without_latency(void)
{
    tb_stats_slot_t *b = tb_stats_find(new_slots(), "/api/sync");

    add_event_stream(b);
    CHECK(b->events == 1 && tb_stats_percentile(b, 0.5) == 0);
}

static void sync_conflict_counted(void)
{
    tb_stats_slot_t *b = tb_stats_find(new_slots(), "/api/sync");

    add_conflict(b);
    CHECK(b->syncs == 1 && b->conflicts == 1 && b->rows_written == 7
          && b->rollbacks == 1);
}

static void json_locations(void)
{
    const char *json = status_json(NULL);

    CHECK(strstr(json, "{\"path\":\"/api/sync\",\"requests\":2,\"loads\":0,"
                 "\"syncs\":1,\"events\":1,\"errors\":1,\"conflicts\":1,"
                 "\"rowsWritten\":7,\"rollbacks\":1,\"cacheHits\":0,"
                 "\"loadsWaited\":0,\"loadsRebuilt\":0,\"loadsRead\":0,"
                 "\"dbErrors\":0,\"latencyMs\":{\"p50\":1.1,\"p90\":1.1,"
                 "\"p99\":1.1}}") != NULL);
    CHECK(strncmp(json, "{\"locations\":[{\"path\":\"(other)\"", 31) == 0);
    CHECK(strstr(json, "process") == NULL);
}

/* the answering process's own numbers, after the summed ones */
static void json_process(void)
{
    tb_stats_process_t proc;

    memset(&proc, 0, sizeof(proc));
    proc.pid = 4242;
    proc.event_streams = 3;
    proc.event_streams_max = 8;
    proc.event_streams_client = 4;
    proc.event_feeds = 2;
    CHECK(strstr(status_json(&proc), "}}],\"process\":{\"pid\":4242,"
                 "\"eventStreams\":3,\"eventStreamsMax\":8,"
                 "\"eventStreamsPerClient\":4,\"eventFeeds\":2}}") != NULL);
}

const tb_case_t tb_stats_cases[] = {
    {"latency buckets: 100 us, then steps of sqrt(2)", buckets},
    {"a label gets one slot, found again; slot 0 is (other)",
     one_slot_per_label},
    {"a slot left half-claimed is passed over",
     half_claimed_slot_passed_over},
    {"a full table counts new labels under (other)", full_table},
    {"loads: counters and percentiles", counters_and_percentiles},
    {"event streams are counted without latency",
     event_streams_without_latency},
    {"a sync conflict: rows written and rolled back", sync_conflict_counted},
    {"JSON: one object per location with its counters", json_locations},
    {"JSON: the answering process's numbers after the sums", json_process},
    {NULL, NULL}
};
