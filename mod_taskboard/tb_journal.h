/* tb_journal.h: the change journal, and the deltas read from it.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/**
 * @file tb_journal.h
 * @brief The change journal and the deltas read from it, independent of
 *        httpd.
 *
 * Every sync that changes the board writes one journal row per record,
 * under the revision it raised the board to.  "What changed since
 * revision N" is then the journal's rows of N+1 .. current, with each
 * record's current state read from its table: present, it goes out in
 * "rows"; gone, in "removed".  The journal can answer only when every one
 * of those revisions has rows: a revision without any was pruned, or
 * raised by a writer outside the module, and then the answer is a full
 * load.
 */

#ifndef TB_JOURNAL_H
#define TB_JOURNAL_H

#include <apr_hash.h>

#include "tb_db.h"
#include "tb_model.h"
#include "tb_sync.h"

/** One journal row. */
typedef struct tb_journal_entry_t {
    apr_int64_t revision;
    const char *table;
    const char *id;             /* the record's id as SQL text */
    const char *operation;      /* "added", "updated", "removed" */
} tb_journal_entry_t;

/** What the journal says happened after a revision. */
typedef struct tb_journal_read_t {
    apr_array_header_t *entries;/* tb_journal_entry_t, by revision */
    apr_hash_t *changed;        /* tb_journal_key() -> last entry */
    int covered;                /* every revision in the range has rows */
} tb_journal_read_t;

/** The key of a record in tb_journal_read_t.changed: "table\nid". */
const char *tb_journal_key(apr_pool_t *pool, const char *table,
                           const char *id);

/**
 * Asks for the statements tb_journal_write needs for n entries (so that
 * they are prepared before a transaction starts).
 */
int tb_journal_prepare(tb_db_t *db, const tb_journal_t *journal, int n,
                       int force, tb_db_error_t *err);

/* board: the request's board when the journal is scoped (tb_scope_t), in
 * every function below; ignored otherwise. */

/** Writes the entries (tb_journal_entry_t) under revision. */
int tb_journal_write(tb_db_t *db, const tb_journal_t *journal,
                     const char *board, apr_int64_t revision,
                     const apr_array_header_t *entries, tb_db_error_t *err);

/**
 * Reads the rows of the revisions since < revision <= upto.  covered is
 * 0 when some revision in between has none, or when there are more than
 * TB_JOURNAL_MAX_READ rows (and for a negative since).
 */
int tb_journal_since(tb_db_t *db, const tb_journal_t *journal,
                     const char *board, apr_int64_t since, apr_int64_t upto,
                     tb_journal_read_t *out, tb_db_error_t *err);

/**
 * Puts the current state of every record in changed (except those in
 * skip, may be NULL) into the changes of the stores on its table: its
 * row into rows_out, or its id into removed_out when it is gone.  The
 * stores' sql_select_ids (and, for string ids, sql_select_id) must be
 * prepared (tb_db_statement).
 */
int tb_journal_fill(tb_db_t *db, const tb_journal_read_t *read,
                    const char *board, apr_hash_t *skip,
                    apr_array_header_t *changes, tb_db_error_t *err);

/**
 * Answers "what changed since" in one consistent snapshot: reads the
 * revision (*revision, its JSON text) and, when the journal covers
 * since .. revision, fills changes (tb_changes_t *, rows_out and
 * removed_out) and sets *covered.  since above the revision is read
 * again after a causal wait (a Galera node behind the one the client
 * saved through); still above (the board went back), it is not covered.
 */
int tb_journal_delta(tb_db_t *db, const tb_journal_t *journal,
                     const tb_revision_t *rev, const char *board,
                     apr_int64_t since,
                     apr_array_header_t *changes, const char **revision,
                     int *covered, tb_db_error_t *err);

/**
 * Removes the revisions (of the board) older than the retention, whole,
 * at most once per min(60 s, retention) per process and board.  Errors
 * are returned for the log.
 */
int tb_journal_prune(tb_db_t *db, const tb_journal_t *journal,
                     const char *board, tb_db_error_t *err);

/**
 * The JSON object of a row read with a store's sql_select_id (id first):
 * the fields picked by mask (NULL: all), with key_json (may be NULL) in
 * front.
 */
const char *tb_row_json(apr_pool_t *pool, const tb_store_t *store,
                        const char **values, const char *mask,
                        const char *key_json);

/**
 * The same, with each field also under the aliases a sync's record sent
 * it under (aliases_sent: per field, bit k for its k-th alias; NULL:
 * none), so that the client finds the value the server chose under
 * every name it used.
 */
const char *tb_row_json_as(apr_pool_t *pool, const tb_store_t *store,
                           const char **values, const char *mask,
                           const char *key_json,
                           const unsigned int *aliases_sent);

#endif /* TB_JOURNAL_H */
