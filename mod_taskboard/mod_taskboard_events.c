/* mod_taskboard_events.c: the taskboard-events handler.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/*
 * Server-Sent Events, one per new revision of the board, naming the
 * stores it changed.
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
 * So that streams never take every worker of a process, a process serves
 * at most TaskBoardEventsMaxStreams of them, and of those at most the
 * per-client number to one client (its user when it signed in, else its
 * address); the excess gets 503 with Retry-After.
 *
 * A board's feed is keyed by the board as the database stores it (every
 * spelling the database takes for it shares one), and the poller frees a
 * feed that no stream used for TB_EVENTS_IDLE_POLLS polls.
 */

#include <stdlib.h>
#include <string.h>

#include <apr_hash.h>
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

/* When a stopping process ends its streams.  An ungraceful stop (SIGTERM:
 * apachectl stop or restart) makes the event MPM's main thread close
 * every busy worker's socket (close_worker_sockets) right after the
 * process enters AP_MPMQ_STOPPING, reading each socket without a lock: a
 * worker that ends its connection at that moment has its socket freed
 * under that read, and the child dies with SIGSEGV in apr_os_sock_get
 * (seen twice in CI, from the cores).  Streams ended by the poller as
 * soon as it sees the state would all end in that window.  So they end
 * once httpd says the child is stopping (the child_stopping hook, which
 * the event MPM runs after that close), or TB_EVENTS_STOP_DELAY after
 * the state changed, for an MPM that does not run the hook or an httpd
 * without it (before 2.4.49), where the delay is all there is. */
#if AP_MODULE_MAGIC_AT_LEAST(20120211, 110)
#define TB_EVENTS_STOP_DELAY apr_time_from_sec(2)
#else
#define TB_EVENTS_STOP_DELAY apr_time_from_msec(200)
#endif

/* Polls after which a feed that no stream used is freed.  An idle feed
 * holds nothing worth keeping (its next subscriber starts it afresh), so
 * this only saves making it again for a browser that reconnects. */
#define TB_EVENTS_IDLE_POLLS 10

/* Free memory the feeds' allocator keeps for new feeds; what freed feeds
 * leave beyond it goes back to the system. */
#define TB_EVENTS_KEEP_FREE (1024 * 1024)

/* A board's feed in this process, in its own pool.  Only the poller
 * thread unlinks and frees entries, under the mutex, and only those that
 * no stream uses (streams counts the handlers between find_feed and
 * release_feed). */
typedef struct feed_entry_t {
    struct feed_entry_t *next;
    apr_pool_t *pool;           /* the entry's own, destroyed to free it */
    server_rec *server;         /* whose mod_dbd pool to borrow from */
    const tb_revision_t *revision;
    const tb_journal_t *journal;
    const char *board;          /* scoped: the board as the database
                                   stores it, else NULL */
    const char *sql_poll;
    tb_feed_t *feed;
    int failing;                /* the last poll failed (logged once) */
    int streams;                /* under poller.mutex */
    apr_time_t idle_since;      /* under poller.mutex: streams fell to 0 */
} feed_entry_t;

/* The open streams of one client in this process (malloc'd, in
 * poller.clients while it has any). */
typedef struct client_entry_t {
    int streams;
    char key[];                 /* "user NAME" or "address IP" */
} client_entry_t;

/* The process's poller, and the count of its streams. */
static struct {
    apr_pool_t *pool;           /* feeds' pools, clients' table; allocated
                                   from under mutex */
    apr_pool_t *scratch;        /* the thread's alone, cleared after each
                                   poll */
    apr_thread_mutex_t *mutex;
    apr_thread_cond_t *wake;    /* a board needs a poll now */
    apr_thread_t *thread;
    feed_entry_t *feeds;
    int nfeeds;
    apr_interval_time_t interval;
    int stop;
    int child_stopping;         /* under mutex: the child_stopping hook
                                   ran (httpd 2.4.49 and later) */
    int streams;                /* open streams, under mutex */
    int max_streams;            /* per process */
    int max_client;             /* per client */
    apr_hash_t *clients;        /* key -> client_entry_t *, under mutex */
} poller;

/* Borrows a connection for one statement or two. */
static tb_db_t *open_db(apr_pool_t *pool, server_rec *s, ap_dbd_t **dbd)
{
    *dbd = tb_dbd_open_fn ? tb_dbd_open_fn(pool, s) : NULL;
    return *dbd ? tb_db_wrap(pool, *dbd) : NULL;
}

/* Gives it back, with the statements of this loan closed first: later,
 * the connection may be another thread's. */
static void close_db(server_rec *s, ap_dbd_t *dbd, tb_db_t *db)
{
    tb_db_end_loan(db);
    tb_dbd_close_fn(s, dbd);
}

static void poll_feed(feed_entry_t *f, apr_pool_t *pool)
{
    apr_array_header_t *rows = apr_array_make(pool, 8, sizeof(char **));
    tb_db_error_t err;
    ap_dbd_t *dbd;
    tb_db_t *db;
    const char *args[3], *since, **row;
    apr_int64_t known;
    int polled, nargs = 0, rv = 0;

    polled = tb_feed_polled(f->feed, &known);
    since = apr_psprintf(pool, "%" APR_INT64_T_FMT, known);

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
        close_db(f->server, dbd, db);
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
        tb_feed_failed(f->feed);
        return;
    }
    if (f->failing) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, f->server, TBLOGNO(00131)
                     "events: reading the journal works again");
        f->failing = 0;
    }
    tb_feed_apply(f->feed, rows);
}

/* Frees the feeds that no stream used for TB_EVENTS_IDLE_POLLS polls.
 * Under poller.mutex, in the poller thread (the only one that unlinks
 * entries, so that it may walk the list without the mutex). */
static void free_idle_feeds(apr_time_t now)
{
    feed_entry_t **link = &poller.feeds, *f;

    while ((f = *link) != NULL) {
        if (f->streams == 0 && now - f->idle_since
                               >= TB_EVENTS_IDLE_POLLS * poller.interval) {
            *link = f->next;
            poller.nfeeds--;
            apr_pool_destroy(f->pool);
        }
        else {
            link = &f->next;
        }
    }
}

/* Whether the streams may end now that the process is stopping (see
 * TB_EVENTS_STOP_DELAY).  Under poller.mutex. */
static int may_end_streams(apr_time_t *stopping_since)
{
    int state;

    if (poller.child_stopping) {
        return 1;
    }
    if (ap_mpm_query(AP_MPMQ_MPM_STATE, &state) != APR_SUCCESS
        || state != AP_MPMQ_STOPPING) {
        return 0;
    }
    if (!*stopping_since) {
        *stopping_since = apr_time_now();
    }
    return apr_time_now() - *stopping_since >= TB_EVENTS_STOP_DELAY;
}

void tb_events_child_stopping(apr_pool_t *pchild, int graceful)
{
    (void)pchild;
    (void)graceful;
    if (!poller.mutex) {
        return;
    }
    apr_thread_mutex_lock(poller.mutex);
    poller.child_stopping = 1;
    apr_thread_cond_signal(poller.wake);
    apr_thread_mutex_unlock(poller.mutex);
}

static void *APR_THREAD_FUNC poll_loop(apr_thread_t *thread, void *data)
{
    feed_entry_t *f, *feeds;
    apr_time_t stopping_since = 0;
    int ending = 0;

    (void)thread;
    (void)data;
    apr_thread_mutex_lock(poller.mutex);
    while (!poller.stop) {
        /* the hook's wake-up may have come while this thread polled */
        if (ending || !poller.child_stopping) {
            apr_thread_cond_timedwait(poller.wake, poller.mutex,
                                      stopping_since || ending
                                          ? TB_EVENTS_STOP_DELAY
                                          : poller.interval);
        }
        if (poller.stop) {
            break;
        }
        feeds = poller.feeds;
        ending = may_end_streams(&stopping_since);
        apr_thread_mutex_unlock(poller.mutex);

        /* A stopping process (graceful restart too) waits for its
         * requests: end the streams, the browsers reconnect elsewhere.
         * Until then a stopping process polls no more. */
        if (ending) {
            for (f = feeds; f; f = f->next) {
                tb_feed_stop(f->feed);
            }
        }
        else if (!stopping_since) {
            for (f = feeds; f; f = f->next) {
                if (tb_feed_has_subscribers(f->feed)) {
                    poll_feed(f, poller.scratch);
                    apr_pool_clear(poller.scratch);
                }
            }
        }
        apr_thread_mutex_lock(poller.mutex);
        if (!poller.stop) {
            free_idle_feeds(apr_time_now());
        }
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
    for (f = poller.feeds; f; f = f->next) {
        tb_feed_stop(f->feed);
    }
    apr_thread_mutex_unlock(poller.mutex);
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
        apr_allocator_max_free_set(allocator, TB_EVENTS_KEEP_FREE);
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
    int threads = 0;

    memset(&poller, 0, sizeof(poller));
    poller.interval = sconf->events_poll;
    /* By default streams may take half the process's workers, and one
     * client half of that: the rest is for loads and syncs. */
    if (ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads) != APR_SUCCESS
        || threads < 2) {
        threads = 2;
    }
    poller.max_streams = sconf->events_max_streams
                         ? sconf->events_max_streams : threads / 2;
    poller.max_client = sconf->events_max_streams
                        ? sconf->events_max_client
                        : (poller.max_streams > 1 ? poller.max_streams / 2
                                                  : 1);
    if ((rv = own_pool(&poller.pool, pchild, 1)) != APR_SUCCESS
        || (rv = own_pool(&poller.scratch, poller.pool, 0)) != APR_SUCCESS
        || (rv = apr_thread_mutex_create(&poller.mutex,
                                         APR_THREAD_MUTEX_DEFAULT,
                                         poller.pool)) != APR_SUCCESS
        || (rv = apr_thread_cond_create(&poller.wake, poller.pool))
           != APR_SUCCESS
        || !(poller.clients = apr_hash_make(poller.pool))
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

void tb_events_counts(int *streams, int *max_streams, int *max_client,
                      int *feeds)
{
    *streams = *max_streams = *max_client = *feeds = 0;
    if (!poller.mutex) {
        return;
    }
    apr_thread_mutex_lock(poller.mutex);
    *streams = poller.streams;
    *max_streams = poller.max_streams;
    *max_client = poller.max_client;
    *feeds = poller.nfeeds;
    apr_thread_mutex_unlock(poller.mutex);
}

/* A new entry for the board's feed, linked in; NULL when out of memory.
 * Under poller.mutex. */
static feed_entry_t *new_feed(request_rec *r, const tb_dir_conf_t *conf,
                              const char *board)
{
    apr_pool_t *pool;
    feed_entry_t *f;

    if (apr_pool_create(&pool, poller.pool) != APR_SUCCESS) {
        return NULL;
    }
    f = apr_pcalloc(pool, sizeof(*f));
    f->pool = pool;
    f->server = r->server;
    f->revision = conf->revision;
    f->journal = conf->journal;
    f->board = board ? apr_pstrdup(pool, board) : NULL;
    f->sql_poll = tb_sql_events_poll(pool, conf->revision, conf->journal);
    if (!(f->feed = tb_feed_create(pool))) {
        apr_pool_destroy(pool);
        return NULL;
    }
    f->next = poller.feeds;
    poller.feeds = f;
    poller.nfeeds++;
    return f;
}

/* The feed of a board in this process, created on first use, and counted
 * as used by one more stream until release_feed. */
static feed_entry_t *find_feed(request_rec *r, const tb_dir_conf_t *conf,
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
        f = new_feed(r, conf, board);
    }
    if (f) {
        f->streams++;
    }
    apr_thread_mutex_unlock(poller.mutex);
    return f;
}

static void release_feed(feed_entry_t *f)
{
    apr_thread_mutex_lock(poller.mutex);
    if (--f->streams == 0) {
        f->idle_since = apr_time_now();
    }
    apr_thread_mutex_unlock(poller.mutex);
}

/* Counts a stream of the request's client in, unless the process or the
 * client has as many as it may.  Returns NULL, or why not. */
static const char *take_slot(const char *key)
{
    apr_size_t len = strlen(key);
    const char *refused = NULL;
    client_entry_t *c;

    apr_thread_mutex_lock(poller.mutex);
    c = apr_hash_get(poller.clients, key, len);
    if (poller.streams >= poller.max_streams) {
        refused = "this server process has as many event streams as it "
                  "serves at once";
    }
    else if (c && c->streams >= poller.max_client) {
        refused = "this client has as many event streams open as it may";
    }
    else if (!c && (c = malloc(sizeof(*c) + len + 1)) != NULL) {
        c->streams = 1;
        memcpy(c->key, key, len + 1);
        apr_hash_set(poller.clients, c->key, len, c);
        poller.streams++;
    }
    else if (!c) {
        refused = "no memory for one more event stream";
    }
    else {
        c->streams++;
        poller.streams++;
    }
    apr_thread_mutex_unlock(poller.mutex);
    return refused;
}

static void give_slot(const char *key)
{
    apr_size_t len = strlen(key);
    client_entry_t *c;

    apr_thread_mutex_lock(poller.mutex);
    poller.streams--;
    c = apr_hash_get(poller.clients, key, len);
    if (c && --c->streams == 0) {
        apr_hash_set(poller.clients, c->key, len, NULL);
        free(c);
    }
    apr_thread_mutex_unlock(poller.mutex);
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
static int events_from_journal(tb_req_t *tr, apr_pool_t *pool,
                               apr_int64_t after, apr_int64_t upto,
                               apr_array_header_t *events)
{
    request_rec *r = tr->r;
    const tb_journal_t *journal = tr->conf->journal;
    tb_journal_read_t read;
    tb_db_error_t err;
    ap_dbd_t *dbd;
    tb_db_t *db;
    int rv;

    if (!(db = open_db(pool, r->server, &dbd))) {
        return 0;
    }
    rv = tb_journal_since(db, journal, tr->board, after, upto, &read, &err);
    if (rv && tb_db_is_stale_statement(err.code)) {
        /* kept from before a silent reconnect: prepare it again */
        rv = tb_journal_prepare(db, journal, 0, 1, &err)
             || tb_journal_since(db, journal, tr->board, after, upto,
                                 &read, &err);
    }
    close_db(r->server, dbd, db);
    if (rv) {
        tb_log_db_error(tr, NULL, &err);
        return 0;
    }
    if (!read.covered) {
        return 0;
    }
    tb_feed_journal_events(pool, read.entries, events);
    return 1;
}

static const char *event_text(apr_pool_t *pool, const tb_dir_conf_t *conf,
                              apr_int64_t revision, const char *tables)
{
    const apr_array_header_t *stores = conf->stores;
    tb_membuf_t mb;
    tb_jw_t jw;

    /* a project change is named like a store's, as "project" */
    if (conf->project) {
        apr_array_header_t *with_project = apr_array_copy(pool, stores);
        APR_ARRAY_PUSH(with_project, const tb_store_t *) = conf->project;
        stores = with_project;
    }
    tb_membuf_init(&mb, pool);
    tb_jw_init(&jw, tb_membuf_sink, &mb);
    tb_feed_write_event(&jw, revision, tables, stores);
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
static void stream(tb_req_t *tr, tb_feed_t *feed, apr_int64_t last,
                   apr_uint32_t resets)
{
    request_rec *r = tr->r;
    const tb_dir_conf_t *conf = tr->conf;
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
            if (!events_from_journal(tr, pool, last, newest, events)) {
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
 * connection borrowed for that moment (a stream holds none).  TB_GO_ON
 * with tr->board the board as the database stores it (the key of its
 * feed). */
static int may_follow(tb_req_t *tr)
{
    request_rec *r = tr->r;
    const char *revision = NULL, *stored = tr->board;
    tb_db_error_t err;
    ap_dbd_t *dbd;
    int rv, writable;

    if (!tr->board && !tr->conf->authz_query) {
        return TB_GO_ON;
    }
    memset(&err, 0, sizeof(err));
    if (!(tr->db = open_db(r->pool, r->server, &dbd))) {
        return tb_send_error(tr, HTTP_SERVICE_UNAVAILABLE,
                             TB_MSG_UNAVAILABLE, NULL);
    }
    rv = tb_authorize(tr, &writable);
    if (rv == TB_GO_ON && tr->board) {
        if (tb_load_board(tr->db, tr->conf->revision, tr->board, &stored,
                          &revision, &err)) {
            rv = tb_send_db_error(tr, NULL, &err);
        }
        else if (!revision) {
            rv = tb_send_no_board(tr);
        }
    }
    close_db(r->server, dbd, tr->db);
    tr->db = NULL;
    tr->board = stored;
    return rv;
}

/* The stream of a request that has its slot: the board's feed, from the
 * client's Last-Event-ID on. */
static int follow(tb_req_t *tr)
{
    request_rec *r = tr->r;
    apr_bucket_brigade *bb;
    const char *last_id, *text;
    apr_int64_t last = -1, current;
    apr_uint32_t resets;
    feed_entry_t *f;
    tb_feed_t *feed;
    int status;

    /* A feed belongs to a board that exists, keyed by the board as the
     * database stores it: the spellings it takes for one are one feed. */
    if ((status = may_follow(tr)) != TB_GO_ON) {
        return status;
    }
    if (!(f = find_feed(r, tr->conf, tr->board))) {
        return tb_send_error(tr, HTTP_SERVICE_UNAVAILABLE, "events are not "
                             "available at the moment", NULL);
    }
    feed = f->feed;

    /* Only a board nobody listened to needs a poll at once: the others
     * are known, and a burst of (re)connecting browsers must not make
     * the poller read the database more often than its interval. */
    if (tb_feed_subscribe(feed, 1)) {
        wake_poller();
    }
    if (tb_feed_current(feed, apr_time_now() + TB_EVENTS_FIRST_POLL,
                        &current, &resets)) {
        tb_feed_subscribe(feed, -1);
        release_feed(f);
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, TBLOGNO(00134)
                      "events: the board's revision could not be read; "
                      "see the poller's messages");
        return tb_send_error(tr, HTTP_SERVICE_UNAVAILABLE,
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
        stream(tr, feed, last, resets);
    }
    tb_feed_subscribe(feed, -1);
    release_feed(f);
    return OK;
}

int tb_handle_events(tb_req_t *tr)
{
    request_rec *r = tr->r;
    const tb_dir_conf_t *conf = tr->conf;
    const char *client, *refused;
    int status;

    if ((status = tb_check_method(tr, TB_METHODS_EVENTS)) != TB_GO_ON
        || (status = tb_check_scope(tr)) != TB_GO_ON
        || (status = tb_request_board(tr)) != TB_GO_ON
        || (status = tb_authorize_user(tr)) != TB_GO_ON) {
        return status;
    }
    if (!conf->journal || !conf->revision) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, TBLOGNO(00133)
                      "SetHandler " TB_HANDLER_EVENTS " for %s, but no %s "
                      "applies to this location", r->uri,
                      conf->journal ? TB_CMD_REVISION : TB_CMD_JOURNAL);
        return tb_send_error(tr, HTTP_INTERNAL_SERVER_ERROR, "this location "
                             "has no change journal", NULL);
    }
    if (!poller.mutex) {
        return tb_send_error(tr, HTTP_SERVICE_UNAVAILABLE, "events are not "
                             "available at the moment", NULL);
    }
    /* Before anything costs a database statement: the slot, counted out
     * again below whatever way the stream ends. */
    client = r->user ? apr_pstrcat(r->pool, "user ", r->user, NULL)
                     : apr_pstrcat(r->pool, "address ",
                                   r->useragent_ip ? r->useragent_ip : "-",
                                   NULL);
    if ((refused = take_slot(client)) != NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, TBLOGNO(00261)
                      "events: stream refused (503), %s ("
                      TB_CMD_EVENTS_MAX_STREAMS " %d %d)", refused,
                      poller.max_streams, poller.max_client);
        /* spread over 10 to 29 s, so that the refused do not come back
         * together */
        apr_table_setn(r->headers_out, "Retry-After",
                       apr_psprintf(r->pool, "%d",
                                    10 + (int)(apr_time_now() % 20)));
        return tb_send_error(tr, HTTP_SERVICE_UNAVAILABLE,
                             apr_pstrcat(r->pool, refused, "; try again "
                                         "later", NULL), NULL);
    }
    status = follow(tr);
    give_slot(client);
    return status;
}
