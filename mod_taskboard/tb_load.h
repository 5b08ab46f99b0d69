/* tb_load.h: reading a load's revision and stores into its answer.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/**
 * @file tb_load.h
 * @brief The load request, independent of httpd: reads the revision and
 *        streams each store's rows from the database cursor into a JSON
 *        writer, so that no board is ever held in memory as a whole; or
 *        rebuilds the answer from the cached answer of an earlier revision
 *        and the journal (tb_load_rebuild), with the same row encoder, so
 *        that the bytes are the same by construction.
 */

#ifndef TB_LOAD_H
#define TB_LOAD_H

#include "tb_db.h"
#include "tb_journal.h"
#include "tb_json.h"
#include "tb_model.h"
#include "tb_request.h"

/**
 * Reads the revision (of board, when the revision is scoped).  *revision
 * is its JSON text (an integer), or NULL when the row does not exist.
 */
int tb_load_revision(tb_db_t *db, const tb_revision_t *rev,
                     const char *board, const char **revision,
                     tb_db_error_t *err);

/**
 * Reads a scoped board's key as the database stores it, and its revision:
 * *stored is the key column's value of the row the database finds for
 * board (so every spelling it takes for that board gives the same one),
 * *revision as in tb_load_revision; both NULL when there is no such row.
 */
int tb_load_board(tb_db_t *db, const tb_revision_t *rev, const char *board,
                  const char **stored, const char **revision,
                  tb_db_error_t *err);

/**
 * Writes "storeId":{"rows":[...],"total":N} for one store (the rows of
 * board when the store is scoped; a tree store's nested, whole, see
 * tb_tree.h).
 * @param lazy the params of a lazy-loading client, for the stores whose
 *        sr->pick says they pick the rows
 * @param bad_values incremented for each value that did not fit its
 *        declared type (written as a string; worth a log line)
 * @return 0, or a driver error described in err.  Rows may already have
 *         been written when an error comes back.
 */
int tb_load_store(tb_db_t *db, tb_jw_t *jw, const tb_store_request_t *sr,
                  const tb_lazy_params_t *lazy, const char *board,
                  int *bad_values, tb_db_error_t *err);

/**
 * Writes ,"project":{field:value,...} from the project's row (of board,
 * when scoped); nothing when the row does not exist.
 * @param bad_values as for tb_load_store
 */
int tb_load_project(tb_db_t *db, tb_jw_t *jw, const tb_store_t *project,
                    const char *board, int *bad_values, tb_db_error_t *err);

/** Bytes of an answer. */
typedef struct tb_load_span_t {
    const char *at;
    apr_size_t len;
} tb_load_span_t;

/** One store of an earlier answer, found by tb_load_index_answer. */
typedef struct tb_load_indexed_t {
    tb_load_span_t whole;       /* from the comma before its key to its
                                   closing brace */
    apr_hash_t *rows;           /* the id's JSON text -> tb_load_span_t *,
                                   the row from { to } */
} tb_load_indexed_t;

/**
 * Finds each store's rows in the bytes of a cached answer (what follows
 * its head: ,"revision":N, then the stores of stores, tb_store_request_t,
 * as tb_load_store writes flat, whole stores).  *index gets one entry per
 * store, in pool; the spans point into body.  -1 when body is not such an
 * answer.
 */
int tb_load_index_answer(apr_pool_t *pool, const char *body, apr_size_t len,
                         const apr_array_header_t *stores,
                         tb_load_indexed_t **index);

/**
 * 1 when the answer of req can be rebuilt from an earlier one: every
 * store flat and whole (no tree, no nested stores, no page, no rows
 * picked by a lazy-loading client), and scoped when the journal is.
 */
int tb_load_can_rebuild(const tb_load_request_t *req,
                        const tb_journal_t *journal);

/**
 * Writes the answer of req at revision (what follows the head, as a full
 * read writes it: byte for byte the same) from the answer of the same
 * request at old_revision and the journal: the stores whose table the
 * journal names get the ids in their order (sql_select_order), their
 * changed rows read again and the others' bytes kept; the others are
 * copied whole; the project is read again.  Must run in the snapshot in
 * which revision was read.
 * @return 0 when written; 1 with *why when it cannot be (nothing
 *         written); -1 on a driver error in err (nothing written)
 */
int tb_load_rebuild(tb_db_t *db, tb_jw_t *jw, const tb_load_request_t *req,
                    const tb_store_t *project, const tb_journal_t *journal,
                    const char *board, const char *old_body,
                    apr_size_t old_len, const char *old_revision,
                    const char *revision, int *bad_values, const char **why,
                    tb_db_error_t *err);

#endif /* TB_LOAD_H */
