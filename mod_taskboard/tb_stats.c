/* tb_stats.c: the counters per location behind the status page.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

#include <stdio.h>
#include <string.h>

#include <apr_atomic.h>

#include "tb_stats.h"

void tb_stats_init(tb_stats_slot_t *slots)
{
    memcpy(slots[0].path, "(other)", sizeof("(other)"));
    apr_atomic_set32(&slots[0].state, 2);
}

tb_stats_slot_t *tb_stats_find(tb_stats_slot_t *slots, const char *label)
{
    apr_size_t len = strlen(label);
    int i, spins;

    if (len >= TB_STATS_PATH) {
        len = TB_STATS_PATH - 1;
    }
    for (i = 1; i < TB_STATS_SLOTS; i++) {
        tb_stats_slot_t *s = &slots[i];
        apr_uint32_t state = apr_atomic_read32(&s->state);

        if (state == 0) {
            if (apr_atomic_cas32(&s->state, 1, 0) == 0) {
                memcpy(s->path, label, len);
                s->path[len] = '\0';
                apr_atomic_set32(&s->state, 2);
                return s;
            }
            state = apr_atomic_read32(&s->state);
        }
        /* another process is writing its label: a matter of nanoseconds,
         * unless it died right then (the slot is then passed over) */
        for (spins = 0; state == 1 && spins < 1000000; spins++) {
            state = apr_atomic_read32(&s->state);
        }
        if (state == 2 && strncmp(s->path, label, len) == 0
            && s->path[len] == '\0') {
            return s;
        }
    }
    return &slots[0];
}

apr_interval_time_t tb_stats_bucket_limit(int bucket)
{
    /* 100, 141, 200, 283, 400, ... microseconds */
    apr_interval_time_t base = (bucket % 2) ? 141 : 100;

    return base << (bucket / 2);
}

int tb_stats_bucket(apr_interval_time_t duration)
{
    int b;

    for (b = 0; b < TB_STATS_BUCKETS - 1; b++) {
        if (duration < tb_stats_bucket_limit(b)) {
            break;
        }
    }
    return b;
}

void tb_stats_add(tb_stats_slot_t *slot, const tb_req_stats_t *req,
                  int status, apr_interval_time_t duration)
{
    apr_atomic_inc32(&slot->requests);
    switch (req->kind) {
    case TB_STATS_LOAD:
        apr_atomic_inc32(&slot->loads);
        break;
    case TB_STATS_SYNC:
        apr_atomic_inc32(&slot->syncs);
        break;
    case TB_STATS_EVENTS:
        apr_atomic_inc32(&slot->events);
        break;
    }
    if (status >= 400) {
        apr_atomic_inc32(&slot->errors);
    }
    if (status == 409) {
        apr_atomic_inc32(&slot->conflicts);
    }
    apr_atomic_add32(&slot->rows_written, (apr_uint32_t)req->rows_written);
    apr_atomic_add32(&slot->rollbacks, (apr_uint32_t)req->rollbacks);
    apr_atomic_add32(&slot->cache_hits, (apr_uint32_t)req->cache_hit);
    apr_atomic_add32(&slot->loads_waited, (apr_uint32_t)req->load_waited);
    apr_atomic_add32(&slot->loads_rebuilt, (apr_uint32_t)req->load_rebuilt);
    apr_atomic_add32(&slot->loads_read, (apr_uint32_t)req->load_read);
    apr_atomic_add32(&slot->db_errors, (apr_uint32_t)req->db_errors);
    /* an event stream lasts its lifetime: no latency to speak of */
    if (req->kind != TB_STATS_EVENTS) {
        apr_atomic_inc32(&slot->latency[tb_stats_bucket(duration)]);
    }
}

apr_interval_time_t tb_stats_percentile(const tb_stats_slot_t *slot,
                                        double p)
{
    apr_uint64_t total = 0, seen = 0;
    int b;

    for (b = 0; b < TB_STATS_BUCKETS; b++) {
        total += apr_atomic_read32((apr_uint32_t *)&slot->latency[b]);
    }
    if (total == 0) {
        return 0;
    }
    for (b = 0; b < TB_STATS_BUCKETS; b++) {
        seen += apr_atomic_read32((apr_uint32_t *)&slot->latency[b]);
        if ((double)seen >= p * (double)total) {
            break;
        }
    }
    return tb_stats_bucket_limit(b < TB_STATS_BUCKETS ? b
                                                      : TB_STATS_BUCKETS - 1);
}

static void write_count(tb_jw_t *jw, const char *key, const apr_uint32_t *v)
{
    char text[64];

    snprintf(text, sizeof(text), ",\"%s\":%u", key,
             apr_atomic_read32((apr_uint32_t *)v));
    tb_jw_cstr(jw, text);
}

void tb_stats_write_json(tb_jw_t *jw, const tb_stats_slot_t *slots,
                         const tb_stats_process_t *proc)
{
    static const double percentiles[] = {0.5, 0.9, 0.99};
    static const char *const names[] = {"p50", "p90", "p99"};
    char text[64];
    int i, k, n = 0;

    tb_jw_cstr(jw, "{\"locations\":[");
    for (i = 0; slots && i < TB_STATS_SLOTS; i++) {
        const tb_stats_slot_t *s = &slots[i];
        if (apr_atomic_read32((apr_uint32_t *)&s->state) != 2) {
            continue;
        }
        tb_jw_cstr(jw, n++ ? ",{\"path\":" : "{\"path\":");
        tb_jw_string(jw, s->path, strlen(s->path));
        write_count(jw, "requests", &s->requests);
        write_count(jw, "loads", &s->loads);
        write_count(jw, "syncs", &s->syncs);
        write_count(jw, "events", &s->events);
        write_count(jw, "errors", &s->errors);
        write_count(jw, "conflicts", &s->conflicts);
        write_count(jw, "rowsWritten", &s->rows_written);
        write_count(jw, "rollbacks", &s->rollbacks);
        write_count(jw, "cacheHits", &s->cache_hits);
        write_count(jw, "loadsWaited", &s->loads_waited);
        write_count(jw, "loadsRebuilt", &s->loads_rebuilt);
        write_count(jw, "loadsRead", &s->loads_read);
        write_count(jw, "dbErrors", &s->db_errors);
        tb_jw_cstr(jw, ",\"latencyMs\":{");
        for (k = 0; k < 3; k++) {
            apr_interval_time_t t = tb_stats_percentile(s, percentiles[k]);
            snprintf(text, sizeof(text), "%s\"%s\":%.1f", k ? "," : "",
                     names[k], (double)t / 1000.0);
            tb_jw_cstr(jw, text);
        }
        tb_jw_cstr(jw, "}}");
    }
    tb_jw_cstr(jw, "]");
    if (proc) {
        snprintf(text, sizeof(text), ",\"process\":{\"pid\":%ld", proc->pid);
        tb_jw_cstr(jw, text);
        snprintf(text, sizeof(text), ",\"eventStreams\":%d,"
                 "\"eventStreamsMax\":%d", proc->event_streams,
                 proc->event_streams_max);
        tb_jw_cstr(jw, text);
        snprintf(text, sizeof(text), ",\"eventStreamsPerClient\":%d,"
                 "\"eventFeeds\":%d}", proc->event_streams_client,
                 proc->event_feeds);
        tb_jw_cstr(jw, text);
    }
    tb_jw_cstr(jw, "}");
}
