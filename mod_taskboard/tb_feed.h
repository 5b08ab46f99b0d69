/* tb_feed.h: what one process knows of a board's new revisions.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/**
 * @file tb_feed.h
 * @brief What one httpd process knows of a board's new revisions, for its
 *        event subscribers; independent of httpd.
 *
 * One poller per process reads the board's revision and the journal's
 * new (revision, table) pairs with a single statement per interval
 * (tb_sql_events_poll), however many subscribers wait, and hands the
 * rows to tb_feed_apply.  The subscribers, each in its own request
 * thread, sleep in tb_feed_wait until the feed has something newer than
 * what they sent last.  The feed keeps the last TB_FEED_RING revisions,
 * so that a client reconnecting with Last-Event-ID is usually answered
 * from memory; one that is further behind is answered from the journal.
 */

#ifndef TB_FEED_H
#define TB_FEED_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <apr_time.h>

#include "tb_journal.h"
#include "tb_json.h"

/** Revisions a feed remembers: more than a busy board gets in one poll
 *  interval, so that its subscribers never read the journal themselves. */
#define TB_FEED_RING 4096

/** One new revision. */
typedef struct tb_feed_event_t {
    apr_int64_t revision;
    char *tables;               /* the tables it changed, each followed by
                                   "\n"; NULL when the journal has no rows
                                   for it (another writer raised it) */
} tb_feed_event_t;

/** A board's feed; opaque: every access takes its mutex. */
typedef struct tb_feed_t tb_feed_t;

/** What tb_feed_wait found. */
typedef enum {
    TB_FEED_EVENTS,             /* events after the given revision */
    TB_FEED_TIMEOUT,            /* nothing new before the deadline */
    TB_FEED_STOPPING,           /* the process is shutting down */
    TB_FEED_BEHIND,             /* the ring no longer reaches back */
    TB_FEED_RESET               /* the revision went back: reload */
} tb_feed_wait_e;

/** Creates a feed (its memory is freed with pool). */
tb_feed_t *tb_feed_create(apr_pool_t *pool);

/**
 * Takes the result of an events poll: rows of two values, the board's
 * revision (second value NULL) and the journal's (revision, table)
 * pairs newer than feed->revision.  Wakes the subscribers when there is
 * news.  The first poll only learns the revision.
 * @return the number of new revisions
 */
int tb_feed_apply(tb_feed_t *feed, const apr_array_header_t *rows);

/** Wakes every subscriber for good: the process is shutting down. */
void tb_feed_stop(tb_feed_t *feed);

/**
 * Waits until the feed has revisions after `after`, the deadline passes
 * or the process stops.  On TB_FEED_EVENTS, events gets copies (in pool)
 * of the tb_feed_event_t after `after`.  *revision gets the newest
 * revision known.  A subscriber passes its *resets from the start, to
 * learn when the revision went back (TB_FEED_RESET).
 */
tb_feed_wait_e tb_feed_wait(tb_feed_t *feed, apr_int64_t after,
                            apr_uint32_t resets, apr_time_t deadline,
                            apr_pool_t *pool, apr_array_header_t *events,
                            apr_int64_t *revision);

/**
 * Records that a poll could not read the database: tb_feed_current fails
 * at once until a poll succeeds again (tb_feed_apply), so that a new
 * subscriber hears "unavailable" rather than a revision that may be old.
 */
void tb_feed_failed(tb_feed_t *feed);

/**
 * Waits until the feed was polled once (or the deadline passes, or a poll
 * failed).
 * @return 0 with *revision and *resets set, or -1
 */
int tb_feed_current(tb_feed_t *feed, apr_time_t deadline,
                    apr_int64_t *revision, apr_uint32_t *resets);

/**
 * What the poller needs for its next statement: 1 once the feed was
 * polled (then *revision is the newest revision known), else 0.
 */
int tb_feed_polled(tb_feed_t *feed, apr_int64_t *revision);

/** 1 while the feed has subscribers (the poller reads its board). */
int tb_feed_has_subscribers(tb_feed_t *feed);

/** Counts a subscriber in or out.  The first one after none makes the
 *  feed wait for a new first poll (tb_feed_current).
 *  @return 1 when the feed waits for its first poll */
int tb_feed_subscribe(tb_feed_t *feed, int delta);

/**
 * Appends to events one tb_feed_event_t per revision of the journal's
 * entries (tb_journal_entry_t, in revision order), naming each table once
 * (in pool): the events of a subscriber that the journal answers.
 */
void tb_feed_journal_events(apr_pool_t *pool,
                            const apr_array_header_t *entries,
                            apr_array_header_t *events);

/**
 * Writes one Server-Sent Event for a revision:
 *   id: N
 *   data: {"revision":N,"stores":[...]}
 * naming the stores (tb_store_t *) whose tables it changed; all of them,
 * with "reload":true, when tables is NULL (the journal cannot tell).
 */
void tb_feed_write_event(tb_jw_t *jw, apr_int64_t revision,
                         const char *tables,
                         const apr_array_header_t *stores);

#endif /* TB_FEED_H */
