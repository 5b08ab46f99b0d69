/* tb_feed.c: what one process knows of a board's new revisions.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "tb_feed.h"
#include "tb_convert.h"
#include "tb_model.h"

struct tb_feed_t {
    apr_thread_mutex_t *mutex;
    apr_thread_cond_t *changed;     /* broadcast on news and on stopping */
    apr_int64_t revision;           /* newest known; valid once polled */
    int polled;
    int failing;                    /* the last poll could not read */
    int stopping;                   /* the process is shutting down */
    apr_uint32_t resets;            /* times the revision went back */
    tb_feed_event_t ring[TB_FEED_RING]; /* tables malloc'd */
    int ring_start, ring_count;
    int subscribers;
};

static void clear_ring(tb_feed_t *feed)
{
    int i;

    for (i = 0; i < TB_FEED_RING; i++) {
        free(feed->ring[i].tables);
        feed->ring[i].tables = NULL;
    }
    feed->ring_start = feed->ring_count = 0;
}

static apr_status_t feed_cleanup(void *data)
{
    clear_ring(data);
    return APR_SUCCESS;
}

tb_feed_t *tb_feed_create(apr_pool_t *pool)
{
    tb_feed_t *feed = apr_pcalloc(pool, sizeof(*feed));

    if (apr_thread_mutex_create(&feed->mutex, APR_THREAD_MUTEX_DEFAULT, pool)
        != APR_SUCCESS
        || apr_thread_cond_create(&feed->changed, pool) != APR_SUCCESS) {
        return NULL;
    }
    apr_pool_cleanup_register(pool, feed, feed_cleanup,
                              apr_pool_cleanup_null);
    return feed;
}

static tb_feed_event_t *ring_at(tb_feed_t *feed, int n)
{
    return &feed->ring[(feed->ring_start + n) % TB_FEED_RING];
}

/* Appends an event, dropping the oldest when the ring is full. */
static tb_feed_event_t *ring_push(tb_feed_t *feed, apr_int64_t revision)
{
    tb_feed_event_t *e;

    if (feed->ring_count == TB_FEED_RING) {
        e = ring_at(feed, 0);
        free(e->tables);
        e->tables = NULL;
        feed->ring_start = (feed->ring_start + 1) % TB_FEED_RING;
        feed->ring_count--;
    }
    e = ring_at(feed, feed->ring_count++);
    e->revision = revision;
    e->tables = NULL;
    return e;
}

/* Adds "table\n" to an event's list unless it is there already. */
static void add_table(tb_feed_event_t *e, const char *table)
{
    apr_size_t have = e->tables ? strlen(e->tables) : 0;
    apr_size_t len = strlen(table);
    const char *p;
    char *grown;

    for (p = e->tables; p && *p; p = strchr(p, '\n') + 1) {
        if (strncmp(p, table, len) == 0 && p[len] == '\n') {
            return;
        }
    }
    if (!(grown = realloc(e->tables, have + len + 2))) {
        return;                 /* the event names fewer tables */
    }
    memcpy(grown + have, table, len);
    grown[have + len] = '\n';
    grown[have + len + 1] = '\0';
    e->tables = grown;
}

int tb_feed_apply(tb_feed_t *feed, const apr_array_header_t *rows)
{
    apr_int64_t current = -1, rev, r;
    int i, fresh = 0, wake = 0;

    for (i = 0; i < rows->nelts; i++) {
        const char **row = APR_ARRAY_IDX(rows, i, const char **);
        if (!row[1] && row[0] && tb_parse_int64(row[0], &rev)) {
            current = rev;
        }
    }
    apr_thread_mutex_lock(feed->mutex);
    feed->failing = 0;
    if (current < 0) {
        apr_thread_mutex_unlock(feed->mutex);
        return 0;               /* no revision row: nothing to tell */
    }
    if (!feed->polled || current < feed->revision) {
        /* The first poll, or the board went back (restored from a backup):
         * what the ring says no longer holds. */
        if (feed->polled) {
            feed->resets++;
            fresh = 1;
        }
        clear_ring(feed);
        feed->polled = 1;
        feed->revision = current;
        wake = 1;               /* new subscribers wait for this poll */
    }
    else if (current > feed->revision) {
        /* Only the newest revisions fit; the rest is told by the journal
         * to those who ask. */
        r = current - TB_FEED_RING > feed->revision
            ? current - TB_FEED_RING : feed->revision;
        if (r > feed->revision) {
            clear_ring(feed);
        }
        /* A revision without rows was raised by another writer, and its
         * event says "all stores" (as it does when memory ran out). */
        for (r = r + 1; r <= current; r++) {
            ring_push(feed, r);
        }
        for (i = 0; i < rows->nelts; i++) {
            const char **row = APR_ARRAY_IDX(rows, i, const char **);
            if (row[1] && tb_parse_int64(row[0], &rev) && rev <= current
                && current - rev < feed->ring_count
                && rev > feed->revision) {
                add_table(ring_at(feed, feed->ring_count - 1
                                        - (int)(current - rev)), row[1]);
            }
        }
        fresh = (int)(current - feed->revision);
        feed->revision = current;
        wake = 1;
    }
    if (wake) {
        apr_thread_cond_broadcast(feed->changed);
    }
    apr_thread_mutex_unlock(feed->mutex);
    return fresh;
}

void tb_feed_stop(tb_feed_t *feed)
{
    apr_thread_mutex_lock(feed->mutex);
    feed->stopping = 1;
    apr_thread_cond_broadcast(feed->changed);
    apr_thread_mutex_unlock(feed->mutex);
}

int tb_feed_subscribe(tb_feed_t *feed, int delta)
{
    int unpolled;

    apr_thread_mutex_lock(feed->mutex);
    if (feed->subscribers == 0 && delta > 0) {
        /* Not polled while nobody listened: start afresh, rather than
         * read everything the journal got meanwhile. */
        clear_ring(feed);
        feed->polled = 0;
    }
    feed->subscribers += delta;
    unpolled = !feed->polled;
    apr_thread_mutex_unlock(feed->mutex);
    return unpolled;
}

void tb_feed_failed(tb_feed_t *feed)
{
    apr_thread_mutex_lock(feed->mutex);
    feed->failing = 1;
    apr_thread_cond_broadcast(feed->changed);   /* tb_feed_current */
    apr_thread_mutex_unlock(feed->mutex);
}

int tb_feed_current(tb_feed_t *feed, apr_time_t deadline,
                    apr_int64_t *revision, apr_uint32_t *resets)
{
    apr_time_t now;
    int rv = -1;

    apr_thread_mutex_lock(feed->mutex);
    while (!feed->polled && !feed->failing && !feed->stopping
           && (now = apr_time_now()) < deadline) {
        apr_thread_cond_timedwait(feed->changed, feed->mutex, deadline - now);
    }
    if (feed->polled && !feed->failing && !feed->stopping) {
        *revision = feed->revision;
        *resets = feed->resets;
        rv = 0;
    }
    apr_thread_mutex_unlock(feed->mutex);
    return rv;
}

tb_feed_wait_e tb_feed_wait(tb_feed_t *feed, apr_int64_t after,
                            apr_uint32_t resets, apr_time_t deadline,
                            apr_pool_t *pool, apr_array_header_t *events,
                            apr_int64_t *revision)
{
    tb_feed_wait_e result;
    apr_time_t now;
    int i;

    apr_thread_mutex_lock(feed->mutex);
    for (;;) {
        if (feed->stopping) {
            result = TB_FEED_STOPPING;
            break;
        }
        if (feed->resets != resets) {
            result = TB_FEED_RESET;
            break;
        }
        if (feed->polled && feed->revision > after) {
            if (feed->ring_count == 0
                || ring_at(feed, 0)->revision > after + 1) {
                result = TB_FEED_BEHIND;
                break;
            }
            /* the ring's revisions follow each other without a gap */
            for (i = (int)(after + 1 - ring_at(feed, 0)->revision);
                 i < feed->ring_count; i++) {
                const tb_feed_event_t *e = ring_at(feed, i);
                tb_feed_event_t *copy = apr_array_push(events);
                copy->revision = e->revision;
                copy->tables = e->tables ? apr_pstrdup(pool, e->tables)
                                         : NULL;
            }
            result = TB_FEED_EVENTS;
            break;
        }
        if ((now = apr_time_now()) >= deadline) {
            result = TB_FEED_TIMEOUT;
            break;
        }
        apr_thread_cond_timedwait(feed->changed, feed->mutex, deadline - now);
    }
    *revision = feed->revision;
    apr_thread_mutex_unlock(feed->mutex);
    return result;
}

/* 1 when the "\n"-terminated list names table. */
static int lists(const char *tables, const char *table)
{
    apr_size_t len = strlen(table);
    const char *p;

    for (p = tables; *p; p = strchr(p, '\n') + 1) {
        if (strncmp(p, table, len) == 0 && p[len] == '\n') {
            return 1;
        }
    }
    return 0;
}

void tb_feed_journal_events(apr_pool_t *pool,
                            const apr_array_header_t *entries,
                            apr_array_header_t *events)
{
    tb_feed_event_t *e = NULL;
    int i;

    for (i = 0; i < entries->nelts; i++) {
        const tb_journal_entry_t *j = &APR_ARRAY_IDX(entries, i,
                                                     tb_journal_entry_t);
        if (!e || e->revision != j->revision) {
            e = apr_array_push(events);
            e->revision = j->revision;
            e->tables = apr_pstrdup(pool, "");
        }
        /* whole names: "tasks" is not "subtasks" */
        if (!lists(e->tables, j->table)) {
            e->tables = apr_pstrcat(pool, e->tables, j->table, "\n", NULL);
        }
    }
}

void tb_feed_write_event(tb_jw_t *jw, apr_int64_t revision,
                         const char *tables,
                         const apr_array_header_t *stores)
{
    char number[32];
    int i, n = 0;

    snprintf(number, sizeof(number), "%" APR_INT64_T_FMT, revision);
    tb_jw_cstr(jw, "id: ");
    tb_jw_cstr(jw, number);
    tb_jw_cstr(jw, "\ndata: {\"revision\":");
    tb_jw_cstr(jw, number);
    tb_jw_cstr(jw, ",\"stores\":[");
    for (i = 0; i < stores->nelts; i++) {
        const tb_store_t *store = APR_ARRAY_IDX(stores, i, const tb_store_t *);
        if (tables && !lists(tables, store->table)) {
            continue;
        }
        if (n++ > 0) {
            tb_jw_raw(jw, ",", 1);
        }
        tb_jw_string(jw, store->id, strlen(store->id));
    }
    tb_jw_cstr(jw, tables ? "]}\n\n" : "],\"reload\":true}\n\n");
}

int tb_feed_polled(tb_feed_t *feed, apr_int64_t *revision)
{
    int polled;

    apr_thread_mutex_lock(feed->mutex);
    polled = feed->polled;
    *revision = feed->revision;
    apr_thread_mutex_unlock(feed->mutex);
    return polled;
}

int tb_feed_has_subscribers(tb_feed_t *feed)
{
    int wanted;

    apr_thread_mutex_lock(feed->mutex);
    wanted = feed->subscribers > 0;
    apr_thread_mutex_unlock(feed->mutex);
    return wanted;
}
