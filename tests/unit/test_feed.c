/* test_feed.c: unit cases of a board's events feed (tb_feed.c).
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/* tb_feed.c: what one process knows of a board's new revisions, for its
 * event subscribers; the events' text; the journal's statements. */

#include <stdarg.h>

#include <apr_strings.h>
#include <apr_thread_proc.h>

#include "tb_test.h"
#include "tb_feed.h"
#include "tb_model.h"
#include "tb_sql.h"

/* An events poll's rows: the revision, then (revision, table) pairs. */
static apr_array_header_t *poll_rows(const char *revision, ...)
{
    apr_array_header_t *rows = apr_array_make(tb_test_pool, 4,
                                              sizeof(const char **));
    const char **row = apr_pcalloc(tb_test_pool, 2 * sizeof(char *));
    const char *rev;
    va_list ap;

    row[0] = revision;
    APR_ARRAY_PUSH(rows, const char **) = row;
    va_start(ap, revision);
    while ((rev = va_arg(ap, const char *)) != NULL) {
        row = apr_pcalloc(tb_test_pool, 2 * sizeof(char *));
        row[0] = rev;
        row[1] = va_arg(ap, const char *);
        APR_ARRAY_PUSH(rows, const char **) = row;
    }
    va_end(ap);
    return rows;
}

static tb_feed_wait_e wait_now(tb_feed_t *feed, apr_int64_t after,
                               apr_uint32_t resets,
                               apr_array_header_t **events,
                               apr_int64_t *newest)
{
    *events = apr_array_make(tb_test_pool, 4, sizeof(tb_feed_event_t));
    return tb_feed_wait(feed, after, resets, apr_time_now(), tb_test_pool,
                        *events, newest);
}

static const char *event_text(apr_int64_t revision, const char *tables,
                              const apr_array_header_t *stores)
{
    tb_membuf_t mb;
    tb_jw_t jw;

    tb_membuf_init(&mb, tb_test_pool);
    tb_jw_init(&jw, tb_membuf_sink, &mb);
    tb_feed_write_event(&jw, revision, tables, stores);
    tb_jw_flush(&jw);
    return mb.buf;
}

/* A feed whose first poll found revision 7. */
static tb_feed_t *feed_at_7(void)
{
    tb_feed_t *feed = tb_feed_create(tb_test_pool);

    tb_feed_apply(feed, poll_rows("7", NULL));
    return feed;
}

/* feed_at_7, then 8 from the journal (two tables, one of them twice) and
 * 9 raised by someone else (no journal rows) */
static tb_feed_t *feed_at_9(void)
{
    tb_feed_t *feed = feed_at_7();

    tb_feed_apply(feed, poll_rows("9", "8", "tasks", "8", "assignments",
                                  "8", "tasks", NULL));
    return feed;
}

/* feed_at_9, then 20 revisions more than the ring holds, one a poll */
static tb_feed_t *feed_past_ring(void)
{
    tb_feed_t *feed = feed_at_9();
    int i;

    for (i = 10; i < 10 + TB_FEED_RING + 20; i++) {
        const char *r = apr_psprintf(tb_test_pool, "%d", i);
        tb_feed_apply(feed, poll_rows(r, r, "tasks", NULL));
    }
    return feed;
}

static void nothing_before_first_poll(void)
{
    tb_feed_t *feed = tb_feed_create(tb_test_pool);
    apr_array_header_t *events;
    apr_int64_t newest, rev;
    apr_uint32_t resets;

    REQUIRE(feed != NULL);
    CHECK(tb_feed_current(feed, apr_time_now(), &rev, &resets) == -1);
    CHECK(wait_now(feed, 0, 0, &events, &newest) == TB_FEED_TIMEOUT);
}

static void first_poll_learns_revision(void)
{
    tb_feed_t *feed = tb_feed_create(tb_test_pool);
    apr_array_header_t *events;
    apr_int64_t newest, rev;
    apr_uint32_t resets;

    CHECK(tb_feed_apply(feed, poll_rows("7", NULL)) == 0);
    CHECK(tb_feed_current(feed, apr_time_now(), &rev, &resets) == 0);
    CHECK(rev == 7 && resets == 0);
    CHECK(wait_now(feed, 7, 0, &events, &newest) == TB_FEED_TIMEOUT);
    CHECK(wait_now(feed, 5, 0, &events, &newest) == TB_FEED_BEHIND);
}

/* A poll that could not read: a new subscriber is told at once, not after
 * its whole wait, and not the revision from before; the next good poll
 * ends it. */
static void failed_poll_fails_current(void)
{
    tb_feed_t *feed = tb_feed_create(tb_test_pool);
    apr_int64_t rev;
    apr_uint32_t resets;
    apr_time_t start;

    tb_feed_failed(feed);
    start = apr_time_now();
    CHECK(tb_feed_current(feed, start + apr_time_from_sec(5), &rev,
                          &resets) == -1);
    CHECK(apr_time_now() - start < apr_time_from_sec(1));
    CHECK(tb_feed_apply(feed, poll_rows("7", NULL)) == 0);
    CHECK(tb_feed_current(feed, apr_time_now(), &rev, &resets) == 0);
    CHECK(rev == 7);
    tb_feed_failed(feed);
    CHECK(tb_feed_current(feed, apr_time_now(), &rev, &resets) == -1);
    CHECK(tb_feed_apply(feed, poll_rows("8", NULL)) == 1);   /* one news */
    CHECK(tb_feed_current(feed, apr_time_now(), &rev, &resets) == 0);
    CHECK(rev == 8);
}

static void journal_rows_become_events(void)
{
    tb_feed_t *feed = feed_at_7();
    apr_array_header_t *events;
    apr_int64_t newest;
    tb_feed_event_t *e;

    CHECK(tb_feed_apply(feed, poll_rows("9", "8", "tasks", "8", "assignments",
                                        "8", "tasks", NULL)) == 2);
    CHECK(wait_now(feed, 7, 0, &events, &newest) == TB_FEED_EVENTS);
    REQUIRE(newest == 9 && events->nelts == 2);
    e = &APR_ARRAY_IDX(events, 0, tb_feed_event_t);
    CHECK(e->revision == 8);
    CHECK_STR(e->tables, "tasks\nassignments\n");
    e = &APR_ARRAY_IDX(events, 1, tb_feed_event_t);
    CHECK(e->revision == 9 && e->tables == NULL);
    CHECK(wait_now(feed, 8, 0, &events, &newest) == TB_FEED_EVENTS);
    CHECK(events->nelts == 1);
    CHECK(wait_now(feed, 9, 0, &events, &newest) == TB_FEED_TIMEOUT);
}

static void same_poll_again_no_news(void)
{
    CHECK(tb_feed_apply(feed_at_9(), poll_rows("9", NULL)) == 0);
}

/* a subscriber from before the forgotten revisions is told it is behind */
static void ring_forgets_oldest(void)
{
    tb_feed_t *feed = feed_past_ring();
    apr_array_header_t *events;
    apr_int64_t newest;

    CHECK(wait_now(feed, 9, 0, &events, &newest) == TB_FEED_BEHIND);
    CHECK(newest == 9 + TB_FEED_RING + 20);
    CHECK(wait_now(feed, newest - TB_FEED_RING, 0, &events, &newest)
          == TB_FEED_EVENTS);
    CHECK(events->nelts == TB_FEED_RING);
}

static void jump_keeps_ring_contiguous(void)
{
    tb_feed_t *feed = feed_past_ring();
    apr_array_header_t *events;
    apr_int64_t newest;

    tb_feed_apply(feed, poll_rows("100000", "100000", "tasks", NULL));
    CHECK(wait_now(feed, 99999, 0, &events, &newest) == TB_FEED_EVENTS);
    CHECK(events->nelts == 1);
    CHECK(wait_now(feed, 99998 - TB_FEED_RING, 0, &events, &newest)
          == TB_FEED_BEHIND);
}

/* a restored backup: subscribers reload */
static void revision_back_resets(void)
{
    tb_feed_t *feed = tb_feed_create(tb_test_pool);
    apr_array_header_t *events;
    apr_int64_t newest, rev;
    apr_uint32_t resets;

    tb_feed_apply(feed, poll_rows("100000", NULL));
    CHECK(tb_feed_apply(feed, poll_rows("3", NULL)) == 1);
    CHECK(wait_now(feed, 100000, 0, &events, &newest) == TB_FEED_RESET);
    CHECK(tb_feed_current(feed, apr_time_now(), &rev, &resets) == 0);
    CHECK(rev == 3 && resets == 1);
    CHECK(wait_now(feed, 3, resets, &events, &newest) == TB_FEED_TIMEOUT);
}

static void first_subscriber_waits_for_poll(void)
{
    tb_feed_t *feed = feed_at_7();
    apr_int64_t rev;
    apr_uint32_t resets;

    tb_feed_subscribe(feed, 1);
    CHECK(tb_feed_current(feed, apr_time_now(), &rev, &resets) == -1);
    tb_feed_apply(feed, poll_rows("4", "4", "tasks", NULL));
    CHECK(tb_feed_current(feed, apr_time_now(), &rev, &resets) == 0);
    CHECK(rev == 4);
    tb_feed_subscribe(feed, 1);     /* a second one keeps what is known */
    CHECK(tb_feed_current(feed, apr_time_now(), &rev, &resets) == 0);
    tb_feed_subscribe(feed, -2);
}

static void poll_without_revision_row(void)
{
    CHECK(tb_feed_apply(feed_at_7(), poll_rows(NULL, "5", "tasks", NULL))
          == 0);
}

static void stop_ends_waits(void)
{
    tb_feed_t *feed = feed_at_7();
    apr_array_header_t *events;
    apr_int64_t newest, rev;
    apr_uint32_t resets;

    tb_feed_stop(feed);
    CHECK(wait_now(feed, 7, 0, &events, &newest) == TB_FEED_STOPPING);
    CHECK(tb_feed_current(feed, apr_time_now(), &rev, &resets) == -1);
}

typedef struct {
    tb_feed_t *feed;
    apr_interval_time_t waited;
    int rv;
} waiter_t;

static void *APR_THREAD_FUNC wait_first_poll(apr_thread_t *thread, void *data)
{
    waiter_t *w = data;
    apr_time_t start = apr_time_now();
    apr_int64_t rev;
    apr_uint32_t resets;

    w->rv = tb_feed_current(w->feed, start + apr_time_from_sec(5), &rev,
                            &resets);
    w->waited = apr_time_now() - start;
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

/* A subscriber waiting for the first poll is woken by it, not by its
 * deadline. */
static void first_poll_wakes(void)
{
    tb_feed_t *feed = tb_feed_create(tb_test_pool);
    apr_thread_t *thread;
    apr_status_t rv;
    waiter_t w;

    w.feed = feed;
    w.rv = -2;
    tb_feed_subscribe(feed, 1);
    CHECK(apr_thread_create(&thread, NULL, wait_first_poll, &w, tb_test_pool)
          == APR_SUCCESS);
    apr_sleep(apr_time_from_msec(50));
    tb_feed_apply(feed, poll_rows("42", NULL));
    apr_thread_join(&rv, thread);
    CHECK(w.rv == 0);
    CHECK(w.waited < apr_time_from_sec(2));
}

static void event_text_names_stores(void)
{
    apr_array_header_t *stores = apr_array_make(tb_test_pool, 3,
                                                sizeof(tb_store_t *));
    tb_store_t *tasks = tb_store_create(tb_test_pool, "tasks");
    tb_store_t *cards = tb_store_create(tb_test_pool, "cards");
    tb_store_t *people = tb_store_create(tb_test_pool, "people");

    cards->table = "tasks";         /* two stores on one table */
    people->table = "resources";
    APR_ARRAY_PUSH(stores, tb_store_t *) = tasks;
    APR_ARRAY_PUSH(stores, tb_store_t *) = cards;
    APR_ARRAY_PUSH(stores, tb_store_t *) = people;
    CHECK_STR(event_text(12, "tasks\n", stores),
              "id: 12\ndata: {\"revision\":12,\"stores\":[\"tasks\","
              "\"cards\"]}\n\n");
    /* a table named like the start of another is not it */
    CHECK_STR(event_text(13, "resources_old\nresources\n", stores),
              "id: 13\ndata: {\"revision\":13,\"stores\":[\"people\"]}\n\n");
    CHECK_STR(event_text(14, "other\n", stores),
              "id: 14\ndata: {\"revision\":14,\"stores\":[]}\n\n");
    CHECK_STR(event_text(15, NULL, stores),
              "id: 15\ndata: {\"revision\":15,\"stores\":[\"tasks\","
              "\"cards\",\"people\"],\"reload\":true}\n\n");
}

/* The events a subscriber behind the feed's memory gets from the journal:
 * one per revision, each table once, whole names only. */
static void journal_events(void)
{
    static const struct {
        apr_int64_t revision;
        const char *table;
    } rows[] = {
        {5, "subtasks"}, {5, "tasks"}, {5, "tasks"}, {5, "subtasks"},
        {6, "tasks"}, {7, "asks"}, {7, "subtasks"}, {7, "ubtasks"}
    };
    apr_array_header_t *entries = apr_array_make(tb_test_pool, 8,
                                                 sizeof(tb_journal_entry_t));
    apr_array_header_t *events = apr_array_make(tb_test_pool, 4,
                                                sizeof(tb_feed_event_t));
    tb_feed_event_t *e;
    unsigned i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        tb_journal_entry_t *j = apr_array_push(entries);
        memset(j, 0, sizeof(*j));
        j->revision = rows[i].revision;
        j->table = rows[i].table;
    }
    tb_feed_journal_events(tb_test_pool, entries, events);
    CHECK(events->nelts == 3);
    e = &APR_ARRAY_IDX(events, 0, tb_feed_event_t);
    CHECK(e->revision == 5);
    CHECK_STR(e->tables, "subtasks\ntasks\n");
    e = &APR_ARRAY_IDX(events, 1, tb_feed_event_t);
    CHECK(e->revision == 6);
    CHECK_STR(e->tables, "tasks\n");
    e = &APR_ARRAY_IDX(events, 2, tb_feed_event_t);
    CHECK(e->revision == 7);
    CHECK_STR(e->tables, "asks\nsubtasks\nubtasks\n");
}

static void journal_statements(void)
{
    tb_journal_t journal;

    memset(&journal, 0, sizeof(journal));
    journal.table = "taskboard_journal";
    tb_sql_build_journal(tb_test_pool, &journal);
    CHECK_STR(journal.sql_insert_one,
              "INSERT INTO `taskboard_journal` (`revision`, `tbl`, "
              "`record_id`, `operation`) VALUES (%s,%s,%s,%s) ON DUPLICATE "
              "KEY UPDATE `operation` = VALUES(`operation`)");
    CHECK(strstr(journal.sql_insert_batch, "(%s,%s,%s,%s),(%s,%s,%s,%s)")
          != NULL);
    CHECK(strstr(journal.sql_insert_few, "VALUES (%s,%s,%s,%s),(%s,%s,%s,%s),"
                 "(%s,%s,%s,%s),(%s,%s,%s,%s) ON") != NULL);
    CHECK_STR(journal.sql_prune,
              "DELETE FROM `taskboard_journal` WHERE `revision` <= %s");
}

/* one statement per interval, however many subscribers */
static void events_poll_statement(void)
{
    tb_journal_t journal;
    tb_revision_t rev;

    memset(&journal, 0, sizeof(journal));
    journal.table = "taskboard_journal";
    memset(&rev, 0, sizeof(rev));
    rev.table = "options";
    rev.column = "value";
    rev.key_column = "name";
    rev.key_value = "revision";
    CHECK_STR(tb_sql_events_poll(tb_test_pool, &rev, &journal),
              "(SELECT `value`, NULL FROM `options` WHERE `name` = %s) "
              "UNION ALL (SELECT DISTINCT `revision`, `tbl` FROM "
              "`taskboard_journal` WHERE `revision` > %s ORDER BY "
              "`revision` LIMIT 10000)");
    rev.key_column = NULL;
    CHECK(strstr(tb_sql_events_poll(tb_test_pool, &rev, &journal),
                 "FROM `options` LIMIT 1)") != NULL);
}

const tb_case_t tb_feed_cases[] = {
    {"nothing is known before the first poll", nothing_before_first_poll},
    {"the first poll only learns the revision", first_poll_learns_revision},
    {"a failed poll fails new subscribers at once, until one works",
     failed_poll_fails_current},
    {"journal rows are events; a revision raised elsewhere one without "
     "tables", journal_rows_become_events},
    {"the same poll again is no news", same_poll_again_no_news},
    {"past the ring: the oldest forgotten, their subscriber behind",
     ring_forgets_oldest},
    {"a jump of more than the ring keeps it contiguous",
     jump_keeps_ring_contiguous},
    {"a revision that goes back makes subscribers reload",
     revision_back_resets},
    {"a first subscriber after none waits for a new first poll",
     first_subscriber_waits_for_poll},
    {"a poll without the revision row tells nothing",
     poll_without_revision_row},
    {"a stopped feed stops its waiters and knows nothing",
     stop_ends_waits},
    {"a subscriber waiting for the first poll is woken by it",
     first_poll_wakes},
    {"an event names the stores on its tables, whole names only",
     event_text_names_stores},
    {"journal rows become one event per revision, each table once",
     journal_events},
    {"the journal's statements", journal_statements},
    {"the events poll: the revision and the journal in one statement",
     events_poll_statement},
    {NULL, NULL}
};
