/* tb_sql.h: the SQL generated from the mapping at configuration time.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/**
 * @file tb_sql.h
 * @brief SQL generated from the mapping at configuration time.
 *
 * Identifiers come only from the configuration, where they were checked
 * against [A-Za-z_][A-Za-z0-9_]*, and are quoted with backticks so that
 * reserved words (`order`, `columns`) work as names.  Values from requests
 * are never part of the text: they are APR DBD placeholders (%s, %lld).
 */

#ifndef TB_SQL_H
#define TB_SQL_H

#include <apr_pools.h>

#include "tb_model.h"

/**
 * Generates the statements of a store (select, page, count) and their
 * labels.  Call once the store's section is complete.
 */
void tb_sql_build_store(apr_pool_t *pool, tb_store_t *store);

/** The placeholders of a TB_LAZY_SPAN store's window: the end, the start,
 *  and the start again when the longest span is declared. */
int tb_sql_span_args(const tb_store_t *store);

/**
 * Generates the statement that loads, for a lazy-loading client, the rows
 * of store that point into the window of target (a TB_LAZY_SPAN store)
 * through its references= fields: sets store->follows and its SQL.  Call
 * once both are built.
 */
void tb_sql_build_follow(apr_pool_t *pool, tb_store_t *store,
                         const tb_store_t *target);

/** Generates the statement that reads the revision. */
void tb_sql_build_revision(apr_pool_t *pool, tb_revision_t *revision);

/** Generates the statements of the phantom and request tables. */
void tb_sql_build_idempotency(apr_pool_t *pool, tb_idempotency_t *idem);

/** Generates the statements of the change journal. */
void tb_sql_build_journal(apr_pool_t *pool, tb_journal_t *journal);

/**
 * The one statement an events poll runs: the board's revision (first
 * column, second NULL) and every (revision, table) of the journal after
 * %s, so that both come from the same read.  Its placeholders: the
 * revision key (when the revision has a key column), the revision, and
 * the board (scoped journals).
 */
const char *tb_sql_events_poll(apr_pool_t *pool, const tb_revision_t *rev,
                               const tb_journal_t *journal);

/**
 * INSERT INTO table (columns...) VALUES (%s,...): the columns of the
 * fields added records set (the rest take their defaults).  A column
 * flagged (flagged[i] non-zero; flagged may be NULL) is set by only some
 * of the records that share the statement: IF(%s, %s, DEFAULT(column)),
 * bound to "1" or "0" and the value.
 */
const char *tb_sql_insert(apr_pool_t *pool, const tb_store_t *store,
                          const char *const *columns, const char *flagged,
                          int ncolumns);

/**
 * UPDATE table SET column = %s, ... WHERE id = %s; a flagged column:
 * column = IF(%s, %s, column), which keeps its value for the records that
 * do not set it.
 */
const char *tb_sql_update(apr_pool_t *pool, const tb_store_t *store,
                          const char *const *columns, const char *flagged,
                          int ncolumns);

/** A label for a prepared statement: readable prefix plus a hash of the
 *  SQL, so that equal SQL shares one statement per connection. */
/**
 * Counts the %s placeholders of an administrator's query
 * (TaskBoardAuthzQuery); %% is a percent sign.
 * @return the count, or -1 with *other set to the first other conversion's
 *         character (' ' for a lone % at the end)
 */
int tb_sql_count_placeholders(const char *query, char *other);

const char *tb_sql_label(apr_pool_t *pool, const char *prefix,
                         const char *sql);

#endif /* TB_SQL_H */
