/* mod_taskboard_private.h: what the httpd glue files share.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/**
 * @file mod_taskboard_private.h
 * @brief What the httpd glue files share: the module, its log numbers,
 *        the per-directory configuration and the hooks between files.
 */

#ifndef MOD_TASKBOARD_PRIVATE_H
#define MOD_TASKBOARD_PRIVATE_H

#include <apr_dbd.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <mod_dbd.h>

#include "tb_db.h"
#include "tb_headers.h"
#include "tb_model.h"
#include "tb_request.h"
#include "tb_sync.h"

extern module AP_MODULE_DECLARE_DATA taskboard_module;
APLOG_USE_MODULE(taskboard);

/* The module's own log numbers: httpd's AHnnnnn registry is httpd's. */
#define TBLOGNO(n) "TB" #n ": "

/* Handler names, as given to SetHandler. */
#define TB_HANDLER_LOAD "taskboard-load"
#define TB_HANDLER_SYNC "taskboard-sync"
#define TB_HANDLER_EVENTS "taskboard-events"
#define TB_HANDLER_STATUS "taskboard-status"

/* Directive names: one spelling for the table, the messages and tests. */
#define TB_CMD_STORE "<TaskBoardStore"
#define TB_CMD_STORE_NAME "<TaskBoardStore>"
#define TB_CMD_PROJECT "<TaskBoardProject"
#define TB_CMD_PROJECT_NAME "<TaskBoardProject>"
#define TB_CMD_TABLE "TaskBoardTable"
#define TB_CMD_ID "TaskBoardId"
#define TB_CMD_ORDER "TaskBoardOrder"
#define TB_CMD_FIELD "TaskBoardField"
#define TB_CMD_LAZY "TaskBoardLazyLoad"
#define TB_CMD_NESTED "TaskBoardNested"
#define TB_CMD_TREE "TaskBoardTree"
#define TB_CMD_REVISION "TaskBoardRevision"
#define TB_CMD_PARAM "TaskBoardParam"
#define TB_CMD_MAX_BODY "TaskBoardMaxBodySize"
#define TB_CMD_MAX_RECORDS "TaskBoardMaxRecords"
#define TB_CMD_PHANTOM "TaskBoardPhantomIdField"
#define TB_CMD_PHANTOM_PARENT "TaskBoardPhantomParentIdField"
#define TB_CMD_CONFLICTS "TaskBoardConflictPolicy"
#define TB_CMD_IGNORE "TaskBoardIgnoreStore"
#define TB_CMD_RETRY "TaskBoardRetryTables"
#define TB_CMD_LOAD_CACHE "TaskBoardLoadCache"
#define TB_CMD_LOAD_CACHE_SIZE "TaskBoardLoadCacheSize"
#define TB_CMD_JOURNAL "TaskBoardJournal"
#define TB_CMD_EVENTS_POLL "TaskBoardEventsPoll"
#define TB_CMD_EVENTS_HEARTBEAT "TaskBoardEventsHeartbeat"
#define TB_CMD_EVENTS_LIFETIME "TaskBoardEventsLifetime"
#define TB_CMD_EVENTS_MAX_STREAMS "TaskBoardEventsMaxStreams"
#define TB_CMD_SCOPE "TaskBoardScope"
#define TB_CMD_AUTHZ_QUERY "TaskBoardAuthzQuery"
#define TB_CMD_READ_ONLY "TaskBoardReadOnly"
#define TB_CMD_ALLOW_ORIGIN "TaskBoardAllowOrigin"
#define TB_CMD_SYNC_RESPONSE "TaskBoardSyncResponse"

/* The methods each handler serves (its Allow header, and what a CORS
 * preflight is told). */
#define TB_METHODS_LOAD "GET, POST"
#define TB_METHODS_SYNC "POST"
#define TB_METHODS_EVENTS "GET"

#define TB_DEFAULT_PARAM "data"
#define TB_DEFAULT_MAX_BODY (4 * 1024 * 1024)
#define TB_DEFAULT_MAX_RECORDS 5000
#define TB_DEFAULT_PHANTOM "$PhantomId"
#define TB_DEFAULT_PHANTOM_PARENT "$PhantomParentId"
#define TB_DEFAULT_RETENTION (7 * 24 * 3600)
#define TB_DEFAULT_CACHE_SIZE (32 * 1024 * 1024)
#define TB_DEFAULT_CACHE_LARGEST (8 * 1024 * 1024)
#define TB_DEFAULT_JOURNAL_RETENTION (7 * 24 * 3600)
#define TB_DEFAULT_EVENTS_POLL apr_time_from_sec(1)
#define TB_DEFAULT_EVENTS_HEARTBEAT apr_time_from_sec(20)
#define TB_DEFAULT_EVENTS_LIFETIME apr_time_from_sec(300)

/** Per-directory (per-<Location>) configuration. */
typedef struct tb_dir_conf_t {
    apr_array_header_t *stores; /* tb_store_t *, inherited and merged */
    tb_revision_t *revision;    /* NULL: not set here */
    tb_store_t *project;        /* <TaskBoardProject>; NULL: not set here */
    const char *param_name;     /* NULL: not set here */
    apr_off_t max_body;         /* -1: not set here */
    int max_records;            /* -1: not set here */
    const char *phantom_field;  /* NULL: not set here */
    const char *phantom_parent_field; /* NULL: not set here */
    int conflicts;              /* -1: not set here, else tb_conflict_e */
    tb_journal_t *journal;      /* NULL: not set here */
    tb_scope_t *scope;          /* NULL: not set here (one board) */
    const char *authz_query;    /* NULL: not set here (no authorization) */
    int authz_nargs;            /* its placeholders: 1 (user), 2 (+board) */
    const char *authz_file;     /* where it was declared, for messages */
    int authz_line;
    int read_only;              /* -1: not set here, else 1 (on) or 0 */
    apr_interval_time_t events_heartbeat; /* -1: not set here */
    apr_interval_time_t events_lifetime;  /* -1: not set here */
    apr_array_header_t *ignored;/* storeIds whose sync sections are
                                   accepted and dropped; NULL: not set */
    tb_idempotency_t *idempotency; /* NULL: not set here */
    int load_cache;             /* -1: not set here, else 1 (on) or 0 */
    int sync_full;              /* -1: not set here, else 1 (full) or 0
                                   (short): TaskBoardSyncResponse */
    apr_array_header_t *allow_origins; /* origins (const char *) whose
                                   pages may call the handlers with
                                   credentials, normalised as browsers
                                   send them; NULL: not set here */
    tb_store_t *current_store;  /* only while a <TaskBoardStore> is read */
} tb_dir_conf_t;

/** Server configuration: only the main server's is used, since the load
 *  cache belongs to the process. */
typedef struct tb_server_conf_t {
    apr_size_t cache_size;      /* bytes per process; 0: no cache */
    apr_size_t cache_largest;   /* largest answer kept */
    apr_interval_time_t events_poll; /* between journal polls */
    int events_max_streams;     /* per process; 0: half the process's
                                   worker threads */
    int events_max_client;      /* per client and process; 0: half of
                                   events_max_streams */
    const char *events_max_file;/* where it was set, for tb_check_config */
    int events_max_line;
} tb_server_conf_t;

/* mod_taskboard_config.c: the directives, and what they mean where they
 * were not set */
extern const command_rec tb_cmds[];
void *tb_create_dir_conf(apr_pool_t *pool, char *dir);
void *tb_merge_dir_conf(apr_pool_t *pool, void *basev, void *addv);
void *tb_create_server_conf(apr_pool_t *pool, server_rec *s);
int tb_conf_load_cache(const tb_dir_conf_t *conf);
const char *tb_conf_param_name(const tb_dir_conf_t *conf);
apr_off_t tb_conf_max_body(const tb_dir_conf_t *conf);
int tb_conf_max_records(const tb_dir_conf_t *conf);
const char *tb_conf_phantom_field(const tb_dir_conf_t *conf);
const char *tb_conf_phantom_parent_field(const tb_dir_conf_t *conf);
tb_conflict_e tb_conf_conflicts(const tb_dir_conf_t *conf);
apr_interval_time_t tb_conf_events_heartbeat(const tb_dir_conf_t *conf);
apr_interval_time_t tb_conf_events_lifetime(const tb_dir_conf_t *conf);
int tb_conf_read_only(const tb_dir_conf_t *conf);
int tb_conf_sync_full(const tb_dir_conf_t *conf);

/* mod_taskboard_check.c: the checks of the whole configuration */
/** Remembers a <TaskBoardStore> and its node, for tb_check_config. */
void tb_remember_store(cmd_parms *cmd, tb_store_t *store,
                       const ap_directive_t *node);
int tb_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                    server_rec *s);

/************ one request *************************************************/

/**
 * One request to a taskboard handler: what every glue function needs to
 * answer it, log it and count it.  tb_handler makes it once; the handler
 * fills in what it learns as it goes (the requestId once the package is
 * decoded, the board, the connection), and every helper that answers,
 * logs or counts takes it.
 */
typedef struct tb_req_t {
    request_rec *r;
    const tb_dir_conf_t *conf;  /* the location's configuration */
    const char *op;             /* "load", "sync", "events", "status": the
                                   "type" of its JSON answers, and the
                                   first word of its log lines */
    const char *request_id;     /* the client's requestId once decoded;
                                   NULL before, and when it sent none */
    const char *board;          /* under TaskBoardScope, once read (see
                                   tb_request_board); else NULL */
    tb_db_t *db;                /* the connection it holds, or NULL */
    struct tb_req_stats_t *stats; /* its status counters, or NULL */
} tb_req_t;

/** The requestId as log lines show it. */
#define TB_RID(tr) ((tr)->request_id ? (tr)->request_id : "-")

/**
 * The one convention of the helpers that may answer a request: TB_GO_ON
 * means nothing was sent and the handler goes on; anything else is the
 * handler's result (OK once an answer was sent, or an HTTP status that
 * httpd answers, such as AP_FILTER_ERROR).
 */
#define TB_GO_ON DECLINED

/* mod_taskboard_handler.c: routing, and the checks before a handler
 * reads its package */
int tb_handler(request_rec *r);

/** OPTIONS (answered with Allow) and methods other than allow ("GET",
 *  "POST" or "GET, POST"; 405). */
int tb_check_method(tb_req_t *tr, const char *allow);

/** Whether everything the location uses has the scope in force (see
 *  TaskBoardScope); 500 when not. */
int tb_check_scope(tb_req_t *tr);

/** The method, the scope, and that the location has stores. */
int tb_check_request(tb_req_t *tr, const char *methods);

/** Adds the CORS headers of the request's Origin when TaskBoardAllowOrigin
 *  lists it (to err_headers_out, which error answers keep too), and Vary:
 *  Origin where the directive applies; returns the allowed origin or NULL. */
const char *tb_cors_headers(request_rec *r, const tb_dir_conf_t *conf);

/** Sets tr->board when the location is scoped (TaskBoardScope); 400 for
 *  a missing or invalid board. */
int tb_request_board(tb_req_t *tr);

/** Finds the JSON package in the query or the body (400, 413, 415 when
 *  it cannot). */
int tb_read_package(tb_req_t *tr, const char **text, apr_size_t *len);

/* mod_taskboard_answer.c: the answer on its way to the client, and the
 * JSON error answers (the module's, and httpd's own on a board's
 * location) */

/* Bytes collected before the answer is passed on to the network: small
 * answers go out in one piece with a Content-Length, and an error found
 * before then can still become a clean JSON error response. */
#define TB_FLUSH_BYTES (64 * 1024)

/** The response body on its way to the output filters (a tb_jw sink).
 *  Spooled, it goes no further than a temporary file until
 *  tb_out_finish: what is read from the database never waits on the
 *  client, whose connection may be slow. */
typedef struct tb_out_t {
    request_rec *r;
    apr_bucket_brigade *bb;
    apr_size_t pending;         /* bytes in bb not yet passed on */
    int committed;              /* something went to the network */
    apr_status_t status;        /* first failure to pass data on */
    int spooling;               /* tb_out_spool() was called */
    int spool_failed;           /* status is the spool file's failure */
    apr_file_t *spool_file;     /* unlinked temporary file, or NULL */
    apr_off_t spooled;          /* bytes in spool_file */
} tb_out_t;

void tb_out_init(tb_out_t *out, request_rec *r);
/** Keeps the body out of the network until tb_out_finish: past
 *  TB_FLUSH_BYTES it goes to an unlinked file in the temporary folder. */
void tb_out_spool(tb_out_t *out);
int tb_out_sink(void *ctx, const char *buf, apr_size_t len);
/** Forgets what a spooled body holds, to send something else instead. */
void tb_out_discard(tb_out_t *out);
apr_status_t tb_out_finish(tb_out_t *out);

/**
 * Sends {"success":false,"type":..,"requestId":..,"message":..,"code":..}
 * with that HTTP status (and "errors" of a 422 when invalid is given).
 * The message is for a person and never holds database text.  Returns OK.
 */
int tb_send_error(tb_req_t *tr, int status, const char *message,
                  const tb_sync_t *invalid);

/** The answer for a board that does not exist (its revision row is
 *  missing): 404, for loads, syncs and event streams alike. */
int tb_send_no_board(tb_req_t *tr);

/** Logs a database failure (store_id: the store it concerned, or NULL). */
void tb_log_db_error(tb_req_t *tr, const char *store_id,
                     const tb_db_error_t *err);

/** Logs a database failure and answers 503 (unreachable) or 500. */
int tb_send_db_error(tb_req_t *tr, const char *store_id,
                     const tb_db_error_t *err);

#define TB_MSG_UNAVAILABLE "the database is not reachable at the moment, " \
                           "please try again shortly"
#define TB_MSG_BUSY "the database is busy at the moment, please try again " \
                    "shortly"

/** Registers the filter that gives httpd's own error answers on a board's
 *  location the module's JSON body. */
void tb_answer_register_hooks(apr_pool_t *pool);

/* mod_taskboard_db.c: mod_dbd's connections, lent to a request */

/* mod_dbd's functions, looked up once (optional functions, so that the
 * LoadModule order does not matter). */
extern ap_dbd_t *(*tb_dbd_open_fn)(apr_pool_t *, server_rec *);
extern void (*tb_dbd_close_fn)(server_rec *, ap_dbd_t *);
void tb_retrieve_dbd_functions(void);

/** Borrows a pooled connection for the request into tr->db; returns it,
 *  or NULL (the caller answers 503). */
tb_db_t *tb_acquire_db(tb_req_t *tr);

/**
 * Gives tr->db back to mod_dbd before the answer is written, so that a
 * slow client holds no database connection (ending a transaction left
 * open).  tr->db is NULL afterwards; a request without one is left alone.
 */
void tb_release_db(tb_req_t *tr);

/** Gives back the connection the request borrowed, if it still has one.
 *  Everything that writes to the client calls it first (the answers and
 *  the error responses), so no write waits on a slow client while a
 *  connection, a transaction or a statement is held. */
void tb_release_request_db(request_rec *r);

/** The module's view of a mod_dbd connection, allocated from pool (the
 *  pool of the request or the moment that has the connection). */
tb_db_t *tb_db_wrap(apr_pool_t *pool, ap_dbd_t *dbd);

/* mod_taskboard_authz.c: who may read or change a board */
/** 401 when an authorization query applies but nobody signed in. */
int tb_authorize_user(tb_req_t *tr);
/**
 * Runs the location's authorization query for the user (and board) on
 * tr->db: 403 for no access.  To go on, *writable is 0 when the user may
 * only read (or the location is read-only).
 */
int tb_authorize(tb_req_t *tr, int *writable);
/** The 403 of a sync with changes that may not write. */
int tb_refuse_write(tb_req_t *tr);

/* mod_taskboard_load.c */
/** Creates this process's load cache (child_init). */
void tb_load_cache_init(apr_pool_t *pchild, server_rec *s);
int tb_handle_load(tb_req_t *tr);

/** Answers with a full load of req's stores from tr->db (also a sync
 *  poll's answer when the journal no longer reaches back to the client's
 *  revision). */
int tb_answer_load(tb_req_t *tr, const tb_load_request_t *req);

/* mod_taskboard_sync.c */
int tb_handle_sync(tb_req_t *tr);
/** Sends a sync answer (as recorded, or written from sync). */
int tb_send_sync_answer(tb_req_t *tr, const tb_sync_t *sync);

/* mod_taskboard_status.c */
/** Creates the shared counters (post_config, before the fork). */
int tb_stats_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                         apr_pool_t *ptemp, server_rec *s);
/** Starts a request's counters; tb_stats_end adds them to the row of the
 *  section that set its handler. */
struct tb_req_stats_t *tb_stats_begin(request_rec *r, int kind);
void tb_stats_end(request_rec *r, apr_interval_time_t duration);
/** The counters of the request, or NULL. */
struct tb_req_stats_t *tb_req_stats(request_rec *r);
int tb_handle_status(tb_req_t *tr);

/* mod_taskboard_events.c */
/** Starts this process's poller thread (child_init). */
void tb_events_init(apr_pool_t *pchild, server_rec *s);
int tb_handle_events(tb_req_t *tr);
/** child_stopping: the streams of this process may end now (httpd 2.4.49
 *  and later; see TB_EVENTS_STOP_DELAY). */
void tb_events_child_stopping(apr_pool_t *pchild, int graceful);
/** The open event streams of this process, its limits and its boards'
 *  feeds (for the status handler). */
void tb_events_counts(int *streams, int *max_streams, int *max_client,
                      int *feeds);

#endif /* MOD_TASKBOARD_PRIVATE_H */
