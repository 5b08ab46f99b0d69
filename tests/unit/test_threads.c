/* test_threads.c: the core from several threads at once (for TSan).
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/*
 * The core's shared state used by many threads at once, as httpd's worker
 * threads use it: the load cache, the status counters, and an events feed
 * with its poller and subscribers.  Every check
 * holds in the plain build; built with ThreadSanitizer (make -f
 * Makefile.apxs unit-tsan) a data race among these threads is reported
 * and fails the run.  The threads start together behind a barrier, so
 * that what one sets up on first use, another meets before anything
 * orders them.  This suite runs first (main.c): state set up on first
 * use is set up by these threads, not by an earlier case.
 */

#include <pthread.h>
#include <stdlib.h>

#include <apr_atomic.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>

#include "tb_test.h"
#include "tb_cache.h"
#include "tb_feed.h"
#include "tb_stats.h"

#define THREADS 6
#define ROUNDS 200

typedef struct {
    int n;
    pthread_barrier_t *start;
    tb_cache_t *cache;
    tb_stats_slot_t *slots;
    int ok;                     /* this thread's checks passed */
} worker_t;

/* Loads that miss and fill the cache, hits, gzip forms made once and
 * read by the others, and the status counters of a few locations. */
static void *APR_THREAD_FUNC work(apr_thread_t *thread, void *data)
{
    worker_t *w = data;
    char key[32], revision[32], text[64];
    tb_req_stats_t req;
    int i;

    memset(&req, 0, sizeof(req));
    req.kind = TB_STATS_LOAD;
    req.rows_written = 1;
    w->ok = 1;
    pthread_barrier_wait(w->start);
    /* answers that start collecting at once, before any lock (in httpd the
     * threads' last lock is long before: the database reads come first) */
    tb_cache_body_free(w->cache, tb_cache_body_new(w->cache));
    for (i = 0; i < ROUNDS; i++) {
        tb_cached_t *e;
        tb_stats_slot_t *slot;

        /* a handful of keys shared by every thread, at a rising revision */
        snprintf(key, sizeof(key), "key %d", i % 4);
        snprintf(revision, sizeof(revision), "%d", i / 8);
        snprintf(text, sizeof(text), ",\"revision\":%d,\"of\":\"%s\"}",
                 i / 8, key);
        if (!(e = tb_cache_get(w->cache, key, revision))) {
            char *body = tb_cache_body_new(w->cache);
            if (!body) {
                w->ok = 0;
                break;
            }
            memcpy(body, text, strlen(text));
            e = tb_cache_entry_create(w->cache, key, revision, body,
                                      strlen(text));
            if (!e) {
                w->ok = 0;
                break;
            }
            tb_cache_publish(e);
        }
        if (e->body_len != strlen(text)
            || memcmp(e->body, text, e->body_len) != 0) {
            w->ok = 0;
        }
        if (tb_cached_gzip(e) && (!e->deflated || e->deflated_len == 0)) {
            w->ok = 0;
        }
        tb_cache_release(e);
        if (i % 16 == w->n) {
            /* an answer collected and then streamed instead */
            tb_cache_body_free(w->cache, tb_cache_body_new(w->cache));
        }

        /* a new location claimed by whoever comes first, counted by all */
        slot = tb_stats_find(w->slots, apr_psprintf(apr_thread_pool_get(
                                                        thread),
                                                    "/loc%d", i % 8));
        tb_stats_add(slot, &req, i % 10 == 0 ? 500 : 200, 150 + i);
    }
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* An events feed: one poller, subscribers that follow every revision */

#define SUBSCRIBERS 3
#define REVISIONS 40

typedef struct {
    tb_feed_t *feed;
    pthread_barrier_t *start;
    apr_int64_t last;           /* the newest revision the subscriber saw */
    int ok;
} subscriber_t;

static void *APR_THREAD_FUNC subscribe(apr_thread_t *thread, void *data)
{
    subscriber_t *s = data;
    apr_pool_t *pool;
    apr_uint32_t resets;
    apr_int64_t newest;
    int i;

    apr_pool_create(&pool, apr_thread_pool_get(thread));
    s->ok = 1;
    tb_feed_subscribe(s->feed, 1);
    pthread_barrier_wait(s->start);
    if (tb_feed_current(s->feed, apr_time_now() + apr_time_from_sec(10),
                        &s->last, &resets) != 0) {
        s->ok = 0;
    }
    while (s->ok && s->last < REVISIONS) {
        apr_array_header_t *events = apr_array_make(pool, 4,
                                                    sizeof(tb_feed_event_t));
        switch (tb_feed_wait(s->feed, s->last, resets,
                             apr_time_now() + apr_time_from_sec(10), pool,
                             events, &newest)) {
        case TB_FEED_EVENTS:
            for (i = 0; i < events->nelts; i++) {
                tb_feed_event_t *e = &APR_ARRAY_IDX(events, i,
                                                    tb_feed_event_t);
                /* every revision once, in order, with its table */
                s->ok &= e->revision == s->last + 1 && e->tables
                         && strcmp(e->tables, "tasks\n") == 0;
                s->last = e->revision;
            }
            break;
        case TB_FEED_BEHIND:
            s->last = newest;   /* the ring no longer reaches back */
            break;
        default:                /* a timeout, a stop or a reset */
            s->ok = 0;
        }
        apr_pool_clear(pool);
    }
    tb_feed_subscribe(s->feed, -1);
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

static void feed_subscribers_follow(void)
{
    apr_pool_t *p = tb_test_pool;
    tb_feed_t *feed = tb_feed_create(p);
    apr_thread_t *threads[SUBSCRIBERS];
    subscriber_t subs[SUBSCRIBERS];
    pthread_barrier_t start;
    apr_status_t rv;
    int i, started = 0, all_ok = 1;

    CHECK(feed != NULL);
    pthread_barrier_init(&start, NULL, SUBSCRIBERS + 1);
    for (i = 0; i < SUBSCRIBERS; i++) {
        subs[i].feed = feed;
        subs[i].start = &start;
        subs[i].last = -1;
        if (apr_thread_create(&threads[i], NULL, subscribe, &subs[i], p)
            == APR_SUCCESS) {
            started++;
        }
    }
    CHECK(started == SUBSCRIBERS);
    pthread_barrier_wait(&start);
    /* the poller: the first poll learns the revision, then one new
     * revision per poll, as the subscribers wait */
    for (i = 0; i <= REVISIONS; i++) {
        apr_array_header_t *rows = apr_array_make(p, 2, sizeof(char **));
        const char **row = apr_pcalloc(p, 2 * sizeof(char *));
        row[0] = apr_psprintf(p, "%d", i);
        APR_ARRAY_PUSH(rows, const char **) = row;
        if (i > 0) {
            row = apr_pcalloc(p, 2 * sizeof(char *));
            row[0] = apr_psprintf(p, "%d", i);
            row[1] = "tasks";
            APR_ARRAY_PUSH(rows, const char **) = row;
        }
        tb_feed_apply(feed, rows);
        if (i % 8 == 0) {
            apr_sleep(1000);
        }
    }
    for (i = 0; i < started; i++) {
        apr_thread_join(&rv, threads[i]);
        all_ok &= subs[i].ok && subs[i].last == REVISIONS;
    }
    tb_feed_stop(feed);
    pthread_barrier_destroy(&start);
    CHECK(all_ok);
}

/* ---------------------------------------------------------------------- */
/* Single flight: loads that miss one key at once read the database once */

#define FLYERS 6

typedef struct {
    tb_cache_t *cache;
    pthread_barrier_t *start;
    const char *revision;
    int publish;                /* the leader keeps its answer */
    apr_interval_time_t wait;   /* how long the others wait */
    int answer;                 /* tb_cache_flight_begin's */
    int ok;
} flyer_t;

static void *APR_THREAD_FUNC fly(apr_thread_t *thread, void *data)
{
    flyer_t *f = data;
    tb_flight_t *flight;
    tb_cached_t *hit;
    static const char text[] = ",\"revision\":7}";

    f->ok = 1;
    pthread_barrier_wait(f->start);
    f->answer = tb_cache_flight_begin(f->cache, "board", f->revision, f->wait,
                                      &hit, &flight);
    if (f->answer == TB_FLIGHT_LEAD) {
        /* the database read, long enough for the others to queue up */
        apr_sleep(apr_time_from_msec(150));
        if (f->publish) {
            char *body = tb_cache_body_new(f->cache);
            memcpy(body, text, sizeof(text) - 1);
            tb_cache_put(f->cache, "board", f->revision, body,
                         sizeof(text) - 1);
        }
        tb_cache_flight_end(flight);
    }
    else if (flight) {
        f->ok = 0;              /* only a leader has a flight to end */
    }
    if (hit) {
        f->ok &= hit->body_len == sizeof(text) - 1
                 && memcmp(hit->body, text, hit->body_len) == 0;
        tb_cache_release(hit);
    }
    else if (f->answer == TB_FLIGHT_HIT || f->answer == TB_FLIGHT_WAITED) {
        f->ok = 0;
    }
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

/* Runs FLYERS threads into one key at revision; counts their answers. */
static void fly_together(tb_cache_t *cache, const char *revision,
                         int publish, apr_interval_time_t wait,
                         int counts[TB_FLIGHT_ALONE + 1])
{
    apr_thread_t *threads[FLYERS];
    flyer_t flyers[FLYERS];
    pthread_barrier_t start;
    apr_status_t rv;
    int i, started = 0;

    memset(counts, 0, sizeof(int) * (TB_FLIGHT_ALONE + 1));
    pthread_barrier_init(&start, NULL, FLYERS);
    for (i = 0; i < FLYERS; i++) {
        memset(&flyers[i], 0, sizeof(flyers[i]));
        flyers[i].cache = cache;
        flyers[i].start = &start;
        flyers[i].revision = revision;
        flyers[i].publish = publish;
        flyers[i].wait = wait;
        if (apr_thread_create(&threads[i], NULL, fly, &flyers[i],
                              tb_test_pool) == APR_SUCCESS) {
            started++;
        }
    }
    REQUIRE(started == FLYERS);
    for (i = 0; i < started; i++) {
        apr_thread_join(&rv, threads[i]);
        CHECK(flyers[i].ok);
        counts[flyers[i].answer]++;
    }
    pthread_barrier_destroy(&start);
}

static void single_flight(void)
{
    tb_cache_t *cache = tb_cache_create(tb_test_pool, 1 << 16, 1 << 12);
    tb_cache_stats_t stats;
    int counts[TB_FLIGHT_ALONE + 1];

    REQUIRE(cache != NULL);
    /* one reads, the others wait and are served its answer */
    fly_together(cache, "7", 1, apr_time_from_sec(10), counts);
    CHECK(counts[TB_FLIGHT_LEAD] == 1);
    CHECK(counts[TB_FLIGHT_WAITED] + counts[TB_FLIGHT_HIT] == FLYERS - 1);
    CHECK(counts[TB_FLIGHT_WAITED] >= 1);
    CHECK(counts[TB_FLIGHT_ALONE] == 0);
    /* the leader keeps nothing (a failure): each of the others reads */
    fly_together(cache, "8", 0, apr_time_from_sec(10), counts);
    CHECK(counts[TB_FLIGHT_LEAD] == 1);
    CHECK(counts[TB_FLIGHT_ALONE] == FLYERS - 1);
    /* the leader takes longer than the others wait: they read */
    fly_together(cache, "9", 1, apr_time_from_msec(10), counts);
    CHECK(counts[TB_FLIGHT_LEAD] == 1);
    CHECK(counts[TB_FLIGHT_ALONE] >= 1);
    CHECK(counts[TB_FLIGHT_ALONE] + counts[TB_FLIGHT_HIT] == FLYERS - 1);
    /* every flight ended and went */
    tb_cache_stats(cache, &stats);
    CHECK(stats.flights == 0);
}

/* ---------------------------------------------------------------------- */

static void cache_and_counters(void)
{
    apr_pool_t *p = tb_test_pool;
    tb_cache_t *cache = tb_cache_create(p, 1 << 16, 1 << 12);
    tb_stats_slot_t *slots = apr_pcalloc(p, sizeof(*slots) * TB_STATS_SLOTS);
    apr_thread_t *threads[THREADS];
    worker_t workers[THREADS];
    pthread_barrier_t start;
    apr_uint32_t requests = 0, rows = 0, errors = 0;
    apr_status_t rv;
    int i, started = 0, all_ok = 1, found = 0;
    tb_membuf_t mb;
    tb_jw_t jw;

    CHECK(cache != NULL);
    tb_stats_init(slots);
    pthread_barrier_init(&start, NULL, THREADS);
    for (i = 0; i < THREADS; i++) {
        workers[i].n = i;
        workers[i].start = &start;
        workers[i].cache = cache;
        workers[i].slots = slots;
        if (apr_thread_create(&threads[i], NULL, work, &workers[i], p)
            == APR_SUCCESS) {
            started++;
        }
    }
    CHECK(started == THREADS);
    for (i = 0; i < started; i++) {
        apr_thread_join(&rv, threads[i]);
        all_ok &= workers[i].ok;
    }
    pthread_barrier_destroy(&start);
    CHECK(all_ok);

    /* every request counted once, in one slot per location */
    for (i = 1; i < TB_STATS_SLOTS; i++) {
        if (apr_atomic_read32(&slots[i].state) == 2) {
            found++;
            requests += apr_atomic_read32(&slots[i].requests);
            rows += apr_atomic_read32(&slots[i].rows_written);
            errors += apr_atomic_read32(&slots[i].errors);
        }
    }
    CHECK(found == 8);
    CHECK(requests == THREADS * ROUNDS && rows == THREADS * ROUNDS);
    CHECK(errors == THREADS * (ROUNDS / 10));
    tb_membuf_init(&mb, p);
    tb_jw_init(&jw, tb_membuf_sink, &mb);
    tb_stats_write_json(&jw, slots, NULL);
    tb_jw_flush(&jw);
    CHECK(strstr(mb.buf, "\"path\":\"/loc7\"") != NULL);
}

const tb_case_t tb_threads_cases[] = {
    {"many threads load through one cache and count in one status table",
     cache_and_counters},
    {"an events feed's subscribers each see every revision once, in order",
     feed_subscribers_follow},
    {"loads that miss one answer at once wait for one read (single flight)",
     single_flight},
    {NULL, NULL}
};
