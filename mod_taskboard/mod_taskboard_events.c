/* mod_taskboard: a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/*
 * The taskboard-events handler: Server-Sent Events, one per new revision
 * of the board, naming the stores it changed.
 *
 * Each httpd process has one poller thread.  Once per TaskBoardEventsPoll
 * interval it reads, for every board that has subscribers in this
 * process, the revision and the journal's new rows with one statement on
 * a connection borrowed from mod_dbd for that moment (tb_feed.h).  The
 * subscribers wait in their request threads, without a connection, until
 * the poller wakes them.  So the database sees one query per process and
 * interval, however many browsers listen; and since the journal is in the
 * database, a sync through any httpd node reaches the subscribers of all.
 *
 * A subscriber occupies its worker thread for the stream's lifetime
 * (TaskBoardEventsLifetime), after which the browser reconnects with
 * Last-Event-ID and is answered from the feed's memory or the journal.
 */

#include <string.h>

#include <apr_strings.h>
#include <apr_thread_proc.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_core.h>
#include <http_protocol.h>
#include <ap_mpm.h>

#include "mod_taskboard_private.h"
#include "tb_convert.h"
#include "tb_feed.h"
#include "tb_journal.h"
#include "tb_load.h"
#include "tb_sql.h"

/* What a browser waits before reconnecting, in milliseconds (sent as the
 * stream's "retry:"). */
#define TB_EVENTS_RETRY_MS "2000"

/* How long a new subscriber waits for the first poll of its board. */
#define TB_EVENTS_FIRST_POLL apr_time_from_sec(10)

/* How often a waiting stream looks whether its client closed the
 * connection, between heartbeats. */
#define TB_EVENTS_CHECK apr_time_from_sec(2)

/* A board's feed in this process.  Entries are only ever added. */
typedef struct feed_entry_t {
    struct feed_entry_t *next;
    server_rec *server;         /* whose mod_dbd pool to borrow from */
    const tb_revision_t *revision;
    const tb_journal_t *journal;
    const char *board;          /* scoped: the board's value, else NULL */
    const char *sql_poll;
    tb_feed_t *feed;
    int failing;                /* the last poll failed (logged once) */
} feed_entry_t;

/* The process's poller. */
static struct {
    apr_pool_t *pool;           /* feeds; allocated from under mutex */
    apr_pool_t *scratch;        /* the thread's alone, cleared after each
                                   poll */
    apr_thread_mutex_t *mutex;
    apr_thread_cond_t *wake;    /* a board needs a poll now */
    apr_thread_t *thread;
    feed_entry_t *feeds;
    apr_interval_time_t interval;
    int stop;
} poller;

/* Borrows a connection for one statement or two. */
static tb_db_t *open_db(apr_pool_t *pool, server_rec *s, ap_dbd_t **dbd)
{
    *dbd = tb_dbd_open_fn ? tb_dbd_open_fn(pool, s) : NULL;
    return *dbd ? tb_db_wrap(pool, *dbd) : NULL;
}

static void poll_feed(feed_entry_t *f, apr_pool_t *pool)
{
    apr_array_header_t *rows = apr_array_make(pool, 8, sizeof(char **));
    tb_db_error_t err;
    ap_dbd_t *dbd;
    tb_db_t *db;
    const char *args[3], *since, **row;
    int polled, nargs = 0, rv = 0;

    apr_thread_mutex_lock(f->feed->mutex);
    polled = f->feed->polled;
    since = apr_psprintf(pool, "%" APR_INT64_T_FMT, f->feed->revision);
    apr_thread_mutex_unlock(f->feed->mutex);

    memset(&err, 0, sizeof(err));
    if (!(db = open_db(pool, f->server, &dbd))) {
        err.text = "no database connection (see mod_dbd's messages)";
        rv = -1;
    }
    else if (!polled) {
        /* The first poll learns where the board is, nothing more. */
        row = apr_pcalloc(pool, 2 * sizeof(char *));
        rv = tb_load_revision(db, f->revision, f->board, &row[0], &err);
        APR_ARRAY_PUSH(rows, const char **) = row;
    }
    else {
        if (f->revision->key_column) {
            args[nargs++] = f->revision->scope ? f->board
                                               : f->revision->key_value;
        }
        args[nargs++] = since;
        if (f->journal->scope) {
            args[nargs++] = f->board;
        }
        rv = tb_db_query_rows(db, f->sql_poll, nargs, args, 2, rows,
                              "polling the journal", &err);
    }
    if (dbd) {
        tb_dbd_close_fn(f->server, dbd);
    }
    if (rv) {
        if (!f->failing) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, f->server,
                         TBLOGNO(00130) "events: reading the board's "
                         "revision and journal failed, subscribers get no "
                         "events until it works again: [%d] %s", err.code,
                         err.text ? err.text : "");
        }
        f->failing = 1;
        return;
    }
    if (f->failing) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, f->server, TBLOGNO(00131)
                     "events: reading the journal works again");
        f->failing = 0;
    }
    tb_feed_apply(f->feed, rows);
}

static int feed_wanted(tb_feed_t *feed)
{
    int wanted;

    apr_thread_mutex_lock(feed->mutex);
    wanted = feed->subscribers > 0;
    apr_thread_mutex_unlock(feed->mutex);
    return wanted;
}

static void *APR_THREAD_FUNC poll_loop(apr_thread_t *thread, void *data)
{
    feed_entry_t *f, *feeds;
    int state;

    (void)thread;
    (void)data;
    apr_thread_mutex_lock(poller.mutex);
    while (!poller.stop) {
        apr_thread_cond_timedwait(poller.wake, poller.mutex, poller.interval);
        if (poller.stop) {
            break;
        }
        feeds = poller.feeds;
        apr_thread_mutex_unlock(poller.mutex);

        /* A stopping process (graceful restart too) waits for its
         * requests: end the streams, the browsers reconnect elsewhere. */
        if (ap_mpm_query(AP_MPMQ_MPM_STATE, &state) == APR_SUCCESS
            && state == AP_MPMQ_STOPPING) {
            for (f = feeds; f; f = f->next) {
                tb_feed_stop(f->feed);
            }
        }
        else {
            for (f = feeds; f; f = f->next) {
                if (feed_wanted(f->feed)) {
                    poll_feed(f, poller.scratch);
                    apr_pool_clear(poller.scratch);
                }
            }
        }
        apr_thread_mutex_lock(poller.mutex);
    }
    apr_thread_mutex_unlock(poller.mutex);
    /* Returns rather than apr_thread_exit(): pthread_exit from inside the
     * uninstrumented libapr leaves this frame poisoned for AddressSanitizer,
     * which then reports its own thread teardown.  stop_poller joins. */
    return NULL;
}

/* Runs before the child pool's subpools go: the thread uses them. */
static apr_status_t stop_poller(void *data)
{
    apr_status_t rv;
    feed_entry_t *f;

    (void)data;
    apr_thread_mutex_lock(poller.mutex);
    poller.stop = 1;
    apr_thread_cond_signal(poller.wake);
    apr_thread_mutex_unlock(poller.mutex);
    for (f = poller.feeds; f; f = f->next) {
        tb_feed_stop(f->feed);
    }
    apr_thread_join(&rv, poller.thread);
    poller.thread = NULL;
    return APR_SUCCESS;
}

/* A pool with an allocator of its own: pchild's allocator has no mutex,
 * and this one is used by the poller thread and the request threads. */
static apr_status_t own_pool(apr_pool_t **pool, apr_pool_t *parent,
                             int shared)
{
    apr_allocator_t *allocator;
    apr_thread_mutex_t *mutex;
    apr_status_t rv;

    if ((rv = apr_allocator_create(&allocator)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = apr_pool_create_ex(pool, parent, NULL, allocator))
        != APR_SUCCESS) {
        apr_allocator_destroy(allocator);
        return rv;
    }
    apr_allocator_owner_set(allocator, *pool);
    if (shared) {
        if ((rv = apr_thread_mutex_create(&mutex, APR_THREAD_MUTEX_DEFAULT,
                                          *pool)) != APR_SUCCESS) {
            return rv;
        }
        apr_allocator_mutex_set(allocator, mutex);
    }
    return APR_SUCCESS;
}

void tb_events_init(apr_pool_t *pchild, server_rec *s)
{
    tb_server_conf_t *sconf = ap_get_module_config(s->module_config,
                                                   &taskboard_module);
    apr_status_t rv;

    memset(&poller, 0, sizeof(poller));
    poller.interval = sconf->events_poll;
    if ((rv = own_pool(&poller.pool, pchild, 1)) != APR_SUCCESS
        || (rv = own_pool(&poller.scratch, poller.pool, 0)) != APR_SUCCESS
        || (rv = apr_thread_mutex_create(&poller.mutex,
                                         APR_THREAD_MUTEX_DEFAULT,
                                         poller.pool)) != APR_SUCCESS
        || (rv = apr_thread_cond_create(&poller.wake, poller.pool))
           != APR_SUCCESS
        || (rv = apr_thread_create(&poller.thread, NULL, poll_loop, NULL,
                                   poller.pool)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, TBLOGNO(00132)
                     "events: the poller thread could not be started; "
                     "taskboard-events answers 503 in this process");
        poller.mutex = NULL;
        return;
    }
    apr_pool_pre_cleanup_register(pchild, NULL, stop_poller);
}

/* The feed of a board in this process, created on first use. */
static tb_feed_t *find_feed(request_rec *r, const tb_dir_conf_t *conf,
                            const char *board)
{
    feed_entry_t *f;

    apr_thread_mutex_lock(poller.mutex);
    for (f = poller.feeds; f; f = f->next) {
        if (f->server == r->server && f->revision == conf->revision
            && f->journal == conf->journal
            && (!board || (f->board && strcmp(f->board, board) == 0))) {
            break;
        }
    }
    if (!f) {
        f = apr_pcalloc(poller.pool, sizeof(*f));
        f->server = r->server;
        f->revision = conf->revision;
        f->journal = conf->journal;
        f->board = board ? apr_pstrdup(poller.pool, board) : NULL;
        f->sql_poll = tb_sql_events_poll(poller.pool, conf->revision,
                                         conf->journal);
        if ((f->feed = tb_feed_create(poller.pool)) != NULL) {
            f->next = poller.feeds;
            poller.feeds = f;
        }
    }
    apr_thread_mutex_unlock(poller.mutex);
    return f->feed;
}

/* Asks the poller for a poll now (a new subscriber waits for one). */
static void wake_poller(void)
{
    apr_thread_mutex_lock(poller.mutex);
    apr_thread_cond_signal(poller.wake);
    apr_thread_mutex_unlock(poller.mutex);
}

/* Sends text at once; non-zero when the client is gone. */
static int send_now(request_rec *r, apr_bucket_brigade *bb, const char *text,
                    apr_size_t len)
{
    apr_status_t rv;

    apr_brigade_write(bb, NULL, NULL, text, len);
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_flush_create(bb->bucket_alloc));
    rv = ap_pass_brigade(r->output_filters, bb);
    apr_brigade_cleanup(bb);
    return rv != APR_SUCCESS || r->connection->aborted;
}

/* The events of the revisions after `after` up to `upto`, from the
 * journal (for a subscriber further behind than the feed remembers).
 * Returns 1 with events filled, 0 when the journal cannot tell. */
static int events_from_journal(request_rec *r, const tb_dir_conf_t *conf,
                               const char *board, apr_pool_t *pool,
                               apr_int64_t after,
                               apr_int64_t upto, apr_array_header_t *events)
{
    tb_journal_read_t read;
    tb_feed_event_t *e = NULL;
    tb_db_error_t err;
    ap_dbd_t *dbd;
    tb_db_t *db;
    int i, rv;

    if (!(db = open_db(pool, r->server, &dbd))) {
        return 0;
    }
    rv = tb_journal_since(db, conf->journal, board, after, upto, &read,
                          &err);
    if (rv && tb_db_is_stale_statement(err.code)) {
        /* kept from before a silent reconnect: prepare it again */
        rv = tb_journal_prepare(db, conf->journal, 0, 1, &err)
             || tb_journal_since(db, conf->journal, board, after, upto,
                                 &read, &err);
    }
    tb_dbd_close_fn(r->server, dbd);
    if (rv) {
        tb_log_db_error(r, "events", NULL, NULL, &err);
        return 0;
    }
    if (!read.covered) {
        return 0;
    }
    for (i = 0; i < read.entries->nelts; i++) {
        const tb_journal_entry_t *j = &APR_ARRAY_IDX(read.entries, i,
                                                     tb_journal_entry_t);
        if (!e || e->revision != j->revision) {
            e = apr_array_push(events);
            e->revision = j->revision;
            e->tables = "";
        }
        if (!strstr(e->tables, apr_pstrcat(pool, j->table, "\n", NULL))) {
            e->tables = apr_pstrcat(pool, e->tables, j->table, "\n", NULL);
        }
    }
    return 1;
}

static const char *event_text(apr_pool_t *pool, const tb_dir_conf_t *conf,
                              apr_int64_t revision, const char *tables)
{
    tb_membuf_t mb;
    tb_jw_t jw;

    tb_membuf_init(&mb, pool);
    tb_jw_init(&jw, tb_membuf_sink, &mb);
    tb_feed_write_event(&jw, revision, tables, conf->stores);
    tb_jw_flush(&jw);
    return mb.buf;
}

/* 1 when the client closed its side of the connection.  A write to such
 * a connection still succeeds once (the kernel takes it, the peer answers
 * with a reset), so waiting for a failed write would hold the worker for
 * up to two heartbeats. */
static int client_closed(request_rec *r)
{
    apr_socket_t *sock = ap_get_conn_socket(r->connection);
    int at_eof = 0;

    return r->connection->aborted
           || (sock && apr_socket_atreadeof(sock, &at_eof) == APR_SUCCESS
               && at_eof);
}

/* The subscriber's stream, from `last` on, until its lifetime ends. */
static void stream(request_rec *r, const tb_dir_conf_t *conf,
                   const char *board, tb_feed_t *feed, apr_int64_t last,
                   apr_uint32_t resets)
{
    apr_bucket_brigade *bb = apr_brigade_create(r->pool,
                                                r->connection->bucket_alloc);
    apr_interval_time_t lifetime = tb_conf_events_lifetime(conf);
    apr_interval_time_t heartbeat = tb_conf_events_heartbeat(conf);
    apr_time_t start = apr_time_now();
    /* Streams that began together (after a restart) end spread over the
     * last tenth of the lifetime, so their reconnects do not come at once. */
    apr_time_t end = start + lifetime - start % (lifetime / 10 + 1);
    apr_time_t beat = start + heartbeat;    /* the next heartbeat */
    apr_array_header_t *events;
    apr_pool_t *pool;
    apr_int64_t newest;
    apr_time_t now, until;
    const char *text;
    int i, gone = 0;

    apr_pool_create(&pool, r->pool);
    while (!gone && (now = apr_time_now()) < end) {
        apr_pool_clear(pool);
        events = apr_array_make(pool, 4, sizeof(tb_feed_event_t));
        /* wake for the heartbeat, and now and then to see whether the
         * client closed the connection */
        until = now + TB_EVENTS_CHECK;
        until = beat < until ? beat : until;
        until = end < until ? end : until;
        switch (tb_feed_wait(feed, last, resets, until, pool, events,
                             &newest)) {
        case TB_FEED_STOPPING:
            return;
        case TB_FEED_TIMEOUT:
            if (client_closed(r)) {
                return;
            }
            if (until == beat && until < end) {
                gone = send_now(r, bb, ":\n\n", 3);
                beat = apr_time_now() + heartbeat;
            }
            continue;
        case TB_FEED_RESET:
            /* The board went back: the client must load it anew. */
            if (tb_feed_current(feed, end, &newest, &resets)) {
                return;
            }
            apr_array_clear(events);
            break;
        case TB_FEED_BEHIND:
            if (!events_from_journal(r, conf, board, pool, last, newest,
                                     events)) {
                apr_array_clear(events);
            }
            break;
        case TB_FEED_EVENTS:
            break;
        }
        if (events->nelts == 0) {
            /* nothing to tell but that everything may have changed */
            tb_feed_event_t *e = apr_array_push(events);
            e->revision = newest;
            e->tables = NULL;
        }
        for (i = 0; !gone && i < events->nelts; i++) {
            const tb_feed_event_t *e = &APR_ARRAY_IDX(events, i,
                                                      tb_feed_event_t);
            text = event_text(pool, conf, e->revision, e->tables);
            gone = send_now(r, bb, text, strlen(text));
            last = e->revision;
        }
        beat = apr_time_now() + heartbeat;
        if (newest > last) {
            last = newest;
        }
    }
}

/* Whether the user may follow the board and the board exists, on a
 * connection borrowed for that moment (a stream holds none).  DECLINED
 * means go on, else the answer sent. */
static int may_follow(request_rec *r, const tb_dir_conf_t *conf,
                      const char *board)
{
    const char *revision = NULL;
    tb_db_error_t err;
    ap_dbd_t *dbd;
    tb_db_t *db;
    int rv, writable;

    if (!board && !conf->authz_query) {
        return DECLINED;
    }
    memset(&err, 0, sizeof(err));
    if (!(db = open_db(r->pool, r->server, &dbd))) {
        return tb_send_error(r, HTTP_SERVICE_UNAVAILABLE, "events", NULL,
                             TB_MSG_UNAVAILABLE, NULL);
    }
    rv = tb_authorize(r, conf, db, "events", NULL, board, &writable);
    if (rv == DECLINED && board) {
        if (tb_load_revision(db, conf->revision, board, &revision, &err)) {
            rv = tb_send_db_error(r, "events", NULL, NULL, &err);
        }
        else if (!revision) {
            rv = tb_send_no_board(r, "events", NULL, board);
        }
    }
    tb_dbd_close_fn(r->server, dbd);
    return rv;
}

int tb_handle_events(request_rec *r)
{
    tb_dir_conf_t *conf = ap_get_module_config(r->per_dir_config,
                                               &taskboard_module);
    apr_bucket_brigade *bb;
    const char *last_id, *text, *board;
    apr_int64_t last = -1, current;
    apr_uint32_t resets;
    tb_feed_t *feed;
    int status;

    if ((status = tb_check_method(r, "events", TB_METHODS_EVENTS)) != DECLINED
        || (status = tb_check_scope(r, conf, "events")) != DECLINED
        || (status = tb_request_board(r, conf, "events", &board))
           != DECLINED
        || (status = tb_authorize_user(r, conf, "events")) != DECLINED) {
        return status;
    }
    if (!conf->journal || !conf->revision) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, TBLOGNO(00133)
                      "SetHandler " TB_HANDLER_EVENTS " for %s, but no %s "
                      "applies to this location", r->uri,
                      conf->journal ? TB_CMD_REVISION : TB_CMD_JOURNAL);
        return tb_send_error(r, HTTP_INTERNAL_SERVER_ERROR, "events", NULL,
                             "this location has no change journal", NULL);
    }
    /* A feed per board lives as long as the process: only boards that
     * exist get one. */
    if ((status = may_follow(r, conf, board)) != DECLINED) {
        return status;
    }
    if (!poller.mutex || !(feed = find_feed(r, conf, board))) {
        return tb_send_error(r, HTTP_SERVICE_UNAVAILABLE, "events", NULL,
                             "events are not available at the moment",
                             NULL);
    }

    /* Only a board nobody listened to needs a poll at once: the others
     * are known, and a burst of (re)connecting browsers must not make
     * the poller read the database more often than its interval. */
    if (tb_feed_subscribe(feed, 1)) {
        wake_poller();
    }
    if (tb_feed_current(feed, apr_time_now() + TB_EVENTS_FIRST_POLL,
                        &current, &resets)) {
        tb_feed_subscribe(feed, -1);
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, TBLOGNO(00134)
                      "events: the board's revision could not be read; "
                      "see the poller's messages");
        return tb_send_error(r, HTTP_SERVICE_UNAVAILABLE, "events", NULL,
                             TB_MSG_UNAVAILABLE, NULL);
    }

    /* Streamed as it comes: no compression, no buffering by proxies. */
    apr_table_setn(r->subprocess_env, "no-gzip", "1");
    apr_table_setn(r->headers_out, "Cache-Control", "no-cache");
    apr_table_setn(r->headers_out, "X-Accel-Buffering", "no");
    ap_set_content_type(r, "text/event-stream; charset=utf-8");
    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);

    last_id = apr_table_get(r->headers_in, "Last-Event-ID");
    if (tb_last_event_id(last_id, current, &last)) {
        /* A reconnect: what it missed comes first. */
        text = "retry: " TB_EVENTS_RETRY_MS "\n\n";
    }
    else {
        /* New, or ahead of this board (restored from a backup): start
         * at the current revision; "ready" sets the browser's
         * lastEventId without waking its onmessage. */
        text = apr_psprintf(r->pool, "retry: " TB_EVENTS_RETRY_MS "\n\n"
                            "id: %" APR_INT64_T_FMT "\nevent: ready\n"
                            "data: {\"revision\":%" APR_INT64_T_FMT "}\n\n",
                            current, current);
        last = current;
    }
    if (!send_now(r, bb, text, strlen(text))) {
        stream(r, conf, board, feed, last, resets);
    }
    tb_feed_subscribe(feed, -1);
    return OK;
}
