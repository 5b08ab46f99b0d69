/* tb_sync.h: the sync request: its package, its checks and its transaction.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/**
 * @file tb_sync.h
 * @brief The sync request, independent of httpd.
 *
 * A sync is decoded and checked as a whole first (tb_sync_parse), so that
 * nothing reaches the database unless every record is valid.  It is then
 * applied in one transaction (tb_sync_apply): removals children first,
 * additions and updates parents first, phantom ids of added records
 * translated into the real ids wherever a later record refers to them.
 */

#ifndef TB_SYNC_H
#define TB_SYNC_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "tb_db.h"
#include "tb_json.h"
#include "tb_model.h"

/** What the location lets a sync do. */
typedef struct tb_sync_conf_t {
    const apr_array_header_t *stores;   /* tb_store_t *, the served ones */
    const tb_store_t *project;          /* <TaskBoardProject>, or NULL */
    const tb_revision_t *revision;      /* NULL: no revision kept */
    tb_conflict_e conflicts;            /* what a stale sync gets */
    const tb_journal_t *journal;        /* NULL: no change journal */
    int max_records;
    const char *phantom_field;          /* "$PhantomId" */
    const char *phantom_parent_field;   /* "$PhantomParentId" */
    const apr_array_header_t *ignored;  /* storeIds to drop, or NULL */
    const tb_idempotency_t *idempotency;/* NULL: retries not recognised */
    int full_answer;                    /* the answer echoes every record
                                           of the request: {id} at least
                                           for updated and removed ones
                                           (TaskBoardSyncResponse full) */
    int read_only;                      /* the request may not change the
                                           board: a package with changes is
                                           refused (403) before its records
                                           are read */
} tb_sync_conf_t;

/** One record of added, updated or removed. */
typedef struct tb_record_t {
    const char *id;             /* real id as SQL text; set on insert */
    const char *key_json;       /* "\"id\":5" or "\"$PhantomId\":\"_g..\"",
                                   for messages and the response */
    const char *phantom;        /* its $PhantomId (added records) */
    const char **values;        /* per store field: SQL text or NULL */
    const char **phantom_refs;  /* per store field: a phantom id that the
                                   field refers to, to be translated */
    char *sent;                 /* per store field: the client set it */
    unsigned int *aliases_sent; /* per store field: bit k set when the
                                   client sent it under its k-th alias
                                   (the answer echoes those names) */
    const char *sql;            /* its INSERT or UPDATE (the store's, see
                                   tb_changes_t), NULL: an update that
                                   writes nothing */
    const char *sql_again;      /* an added record's UPDATE, for when a
                                   retried sync adds it a second time */
} tb_record_t;

/** How the one INSERT or UPDATE a sync runs for a store writes a field:
 *  records that send different fields share it (so that a sync prepares
 *  a bounded number of statements), and a field only some of them send
 *  is written as IF(sent, value, the default or the current value). */
typedef enum {
    TB_COLUMN_NONE = 0,         /* no record sends it: not in the SQL */
    TB_COLUMN_ALL,              /* every record sends it: one placeholder */
    TB_COLUMN_SOME              /* some do: a flag and a value */
} tb_column_e;

/** The changes to one store, and what the response says about it. */
typedef struct tb_changes_t {
    const tb_store_t *store;
    apr_array_header_t *added;      /* tb_record_t *, parents first */
    apr_array_header_t *updated;    /* tb_record_t * */
    apr_array_header_t *removed;    /* tb_record_t * */
    apr_array_header_t *rows_out;   /* JSON objects for "rows" */
    apr_array_header_t *removed_out;/* ids (SQL text) for "removed" */
    const char *sql_insert;         /* the store's INSERT in this sync */
    int insert_returns;             /* it ends in the store's RETURNING */
    char *insert_columns;           /* per field: tb_column_e */
    const char *sql_update;         /* the store's UPDATE in this sync */
    char *update_columns;           /* per field: tb_column_e */
} tb_changes_t;

/** One 422 entry. */
typedef struct tb_invalid_t {
    const char *store;
    const char *key_json;       /* "\"id\":5" or "\"$PhantomId\":\"..\"" */
    const char *field;
    const char *message;
} tb_invalid_t;

typedef struct tb_sync_t {
    const tb_sync_conf_t *conf;
    const char *request_id;     /* JSON, or NULL */
    int has_revision;
    apr_int64_t client_revision;
    apr_array_header_t *changes;/* tb_changes_t *, parents before children */
    int nrecords;
    apr_array_header_t *invalid;/* tb_invalid_t: the 422 list */
    apr_hash_t *phantoms;       /* storeId -> (phantom -> tb_record_t *) of
                                   the added records */
    apr_hash_t *nested_links;   /* where nested records came from
                                   (tb_nested.c), or NULL */
    const char *body_hash;      /* SHA-1 of the package, hex */
    const char *user;           /* the authenticated user, for stamp=
                                   fields (NULL: none) */
    const char *board;          /* the request's board (tb_scope_value)
                                   when the location is scoped, else NULL:
                                   every statement is then confined to it */
    /* results */
    const char *revision;       /* the revision after the sync (JSON) */
    const char *response;       /* the answer, when it was recorded or
                                   replayed (tb_sync_apply, tb_sync_replay) */
    int rows_written;           /* records added, updated or removed */
} tb_sync_t;

/** Why a sync failed: an HTTP status and a message for a person. */
typedef struct tb_sync_error_t {
    int status;                 /* 400, 403, 409, 422, 500, 503 */
    const char *message;
    tb_db_error_t db;           /* for the log when the database failed */
    int attempts;               /* runs of the transaction (tb_sync_apply) */
} tb_sync_error_t;

/**
 * Decodes and checks a sync package.
 * @return 0, or the status (400 or 422) with err->message, and for 422
 *         the entries in sync->invalid; 403 when conf->read_only and the
 *         package changes something
 */
int tb_sync_parse(apr_pool_t *pool, const tb_sync_conf_t *conf,
                  const char *text, apr_size_t len, tb_sync_t **sync,
                  tb_sync_error_t *err);

/** The added record of a store with that phantom id, or NULL. */
tb_record_t *tb_sync_phantom(const tb_sync_t *sync, const char *store_id,
                             const char *phantom);

/**
 * Orders a store's added records so that a tree parent added in the same
 * sync comes before its children (the records a field referring to the
 * store itself names by phantom id), and otherwise keeps the order the
 * client sent: in rounds, each taking in sent order every record whose
 * parents are placed.  Linear in records and references (a chain of
 * 5,000 records sent children first takes no 5,000 rounds over all).
 * @param steps when not NULL, incremented by the units of work done, so
 *        that a unit test can tell that it stays linear
 * @return the ordered records, or NULL when they refer to each other in a
 *         cycle
 */
apr_array_header_t *tb_sync_order_added(apr_pool_t *pool,
                                        const tb_store_t *store,
                                        const apr_array_header_t *added,
                                        apr_size_t *steps);

/**
 * Applies a parsed sync in one transaction, run again from the start,
 * after a growing random pause, when it loses to another transaction
 * (a deadlock, or a Galera certification failure).  Fills the response
 * parts of sync.  On failure nothing is applied.
 * @return 0, or the HTTP status with err filled in
 */
int tb_sync_apply(tb_db_t *db, tb_sync_t *sync, tb_sync_error_t *err);

/**
 * Looks for the answer to an identical earlier request (same requestId,
 * same body) in the request table; sets sync->response when found.
 * @return 0, or -1 with err->db describing the database failure
 */
int tb_sync_replay(tb_db_t *db, tb_sync_t *sync, tb_sync_error_t *err);

/**
 * Removes phantom and request records older than the retention, at most
 * once a minute per process; errors are ignored (returned for the log).
 */
int tb_sync_prune(tb_db_t *db, const tb_sync_conf_t *conf,
                  tb_db_error_t *err);

#endif /* TB_SYNC_H */
