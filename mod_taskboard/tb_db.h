/* tb_db.h: the APR DBD calls: prepared statements, drained results, errors.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/**
 * @file tb_db.h
 * @brief The APR DBD calls, independent of httpd: statements prepared
 *        once per connection, result sets always drained, driver error
 *        text copied before the next call overwrites it.
 */

#ifndef TB_DB_H
#define TB_DB_H

#include <apr_pools.h>
#include <apr_hash.h>
#include <apr_tables.h>
#include <apr_dbd.h>
#include <apr_buckets.h>

/** A database connection lent to one request. */
typedef struct tb_db_t {
    const apr_dbd_driver_t *driver;
    apr_dbd_t *handle;
    apr_hash_t *prepared;       /* label -> apr_dbd_prepared_t *, per
                                   connection (mod_dbd's own hash) */
    apr_pool_t *conn_pool;      /* lives as long as the connection */
    apr_pool_t *pool;           /* the request's pool */
    int in_transaction;         /* START TRANSACTION sent, not yet ended */
    int rollback_registered;    /* the request pool's cleanup is set */
    int rollbacks;              /* transactions rolled back (statistics) */
    apr_hash_t *request_stmts;  /* SQL -> statement, those this request
                                   asked tb_db_statement for */
    apr_pool_t *loan_pool;      /* statements beyond the kept ones: closed
                                   by tb_db_end_loan, before the connection
                                   goes back (or with pool) */
    void *lent;                 /* the lender's record of the loan (the
                                   glue gives the connection back with it),
                                   NULL once given back */
    apr_bucket_brigade *values; /* tb_db_entry's, made on first use */
} tb_db_t;

/** Statements of tb_db_statement kept per connection, at most: the fixed
 *  ones of a configuration are far fewer, and the rest (an UPDATE for each
 *  set of columns a client sends) must not exhaust the server's
 *  max_prepared_stmt_count.  Beyond it, statements live for one request. */
#define TB_DB_MAX_KEPT_STATEMENTS 64

/* MariaDB's "Query execution was interrupted" (KILL QUERY, or a timeout):
 * the request can succeed a moment later. */
#define TB_ER_QUERY_INTERRUPTED 1317

/* A statement the server cannot parse: MySQL, or an older MariaDB, meeting
 * syntax this module may use (RETURNING, SET STATEMENT). */
#define TB_ER_PARSE_ERROR 1064

/** What went wrong, for the error log; never for the client. */
typedef struct tb_db_error_t {
    int code;                   /* the driver's errno (MySQL's), or 0 */
    const char *text;           /* the driver's message, copied */
    const char *doing;          /* what the module was doing */
    int unavailable;            /* gone, or the statement killed: 503 */
    int busy;                   /* lost to another transaction, or waited
                                 * too long for it: 503, a warning */
} tb_db_error_t;

/**
 * Records a driver error: copies its text at once and decides whether
 * the database is unreachable (connection errors, a failed ping, or a
 * Galera node that is not part of the cluster) or busy (a deadlock, a
 * Galera certification failure, a lock or causal wait that timed out).
 * @return code, for "return tb_db_fail(...)" convenience
 */
int tb_db_fail(tb_db_t *db, int code, const char *doing, tb_db_error_t *err);

/**
 * Records an error that ended the rows of a streaming (unprepared) SELECT.
 * The driver gives no error number there; a statement that started and
 * then failed was cut short by the server (killed, lost, shut down), so
 * it counts as unavailable: 503, and a retry a moment later gets past it.
 * @return -1
 */
int tb_db_fail_reading(tb_db_t *db, const char *doing, tb_db_error_t *err);

/**
 * Finds the connection's prepared statement for label, preparing sql on
 * first use.  With force, prepares again (after the server forgot it).
 */
int tb_db_prepared(tb_db_t *db, const char *label, const char *sql,
                   int force, apr_dbd_prepared_t **stmt, tb_db_error_t *err);

/** 1 when code means the server no longer knows the prepared statement
 *  (after a restart and a silent reconnect): prepare again and retry. */
int tb_db_is_stale_statement(int code);

/**
 * Runs an unprepared SELECT that has no parameters and returns the first
 * column of the first row (NULL for SQL NULL or no row), draining the rest.
 */
int tb_db_select_value(tb_db_t *db, const char *sql, const char **value,
                       tb_db_error_t *err);

/**
 * The connection's prepared statement for sql, keyed by its text and
 * prepared on first use (or again, with force); it is also remembered in
 * db->request_stmts.  Sync asks for everything it needs this way before
 * its transaction starts and runs nothing else inside it, so a silent
 * reconnect can never let part of a transaction run in autocommit: a
 * statement prepared before the reconnect fails after it (1243/2030), and
 * the caller rolls back and prepares again.
 */
int tb_db_statement(tb_db_t *db, const char *sql, int force,
                    apr_dbd_prepared_t **stmt, tb_db_error_t *err);

/**
 * Closes the statements of this loan that the connection does not keep
 * (tb_db_statement beyond TB_DB_MAX_KEPT_STATEMENTS).  Must run before
 * the connection goes back to its pool: closing a statement talks to the
 * server over the connection, which by then may serve another thread.
 */
void tb_db_end_loan(tb_db_t *db);

/** Like tb_db_exec, but a failure does not doom the open transaction (the
 *  database undoes just that statement), so the caller may recover. */
int tb_db_exec_may_fail(tb_db_t *db, apr_dbd_prepared_t *stmt, int nargs,
                        const char **args, int *nrows, const char *doing,
                        tb_db_error_t *err);

/**
 * The value of column col of row, whole and NUL-terminated, copied into
 * pool; NULL for SQL NULL.
 *
 * apr_dbd_get_entry is not enough for the rows of a prepared statement:
 * the MySQL driver gives each column a buffer of min(column length,
 * DBDParams fldsz) + 1 bytes (1 MiB by default) and hands out that
 * buffer, so a longer value comes back cut short, and one that fills it
 * without its NUL.  Here the value's real length comes from the driver's
 * BLOB datum (a bucket that knows it), and a value the buffer did not
 * hold is read again through that bucket, in pieces of the buffer's
 * size.  Memory: the copy, plus a new buffer per piece (the driver
 * takes one from the result's pool at each read), so three times the
 * value at most, the pieces freed with the result.  MariaDB's
 * max_allowed_packet bounds the value.  Works for the rows of unprepared
 * statements as well (their values are always whole).
 * @return 0, or -1 with err filled (500: never a truncated value)
 */
int tb_db_entry(tb_db_t *db, apr_dbd_row_t *row, int col, apr_pool_t *pool,
                const char **value, const char *doing, tb_db_error_t *err);

/** 1 when code means a statement was larger than the database takes in
 *  one packet (max_allowed_packet): the request is too large (413), and
 *  the server has closed the connection. */
int tb_db_is_too_large(int code);

/** Runs a statement that returns no rows; *nrows gets the affected rows. */
int tb_db_exec(tb_db_t *db, apr_dbd_prepared_t *stmt, int nargs,
               const char **args, int *nrows, const char *doing,
               tb_db_error_t *err);

/**
 * Runs a SELECT and copies the first row's ncols values into *values
 * (NULL entries for SQL NULL); *values is NULL when there is no row.
 */
int tb_db_select_row(tb_db_t *db, apr_dbd_prepared_t *stmt, int nargs,
                     const char **args, int ncols, const char ***values,
                     const char *doing, tb_db_error_t *err);

/** Runs a SELECT and appends the first column of every row to out. */
int tb_db_select_column(tb_db_t *db, apr_dbd_prepared_t *stmt, int nargs,
                        const char **args, apr_array_header_t *out,
                        const char *doing, tb_db_error_t *err);

/** Runs a SELECT and appends every row to out, as an array of ncols
 *  values (const char **, NULL entries for SQL NULL). */
int tb_db_select_rows(tb_db_t *db, apr_dbd_prepared_t *stmt, int nargs,
                      const char **args, int ncols, apr_array_header_t *out,
                      const char *doing, tb_db_error_t *err);

/**
 * tb_db_statement(sql) and tb_db_select_rows outside a transaction: when
 * the server no longer knows the kept statement (a silent reconnect), it
 * is prepared again and run once more.  out is emptied first.
 */
int tb_db_query_rows(tb_db_t *db, const char *sql, int nargs,
                     const char **args, int ncols, apr_array_header_t *out,
                     const char *doing, tb_db_error_t *err);

/**
 * Starts a read-only transaction on a consistent snapshot, so that every
 * SELECT of a load sees the same committed state (under the default
 * REPEATABLE READ isolation).  Ended by tb_db_commit.
 */
int tb_db_begin_snapshot(tb_db_t *db, tb_db_error_t *err);

/** Starts a read-write transaction at READ COMMITTED: each statement
 *  sees what was committed before it (a sync's checks after waiting for
 *  a lock), where REPEATABLE READ would show the first read's moment.
 *  With START TRANSACTION, not the driver's autocommit switch (a
 *  statement more at each end); a cleanup on the request pool rolls it
 *  back if it is still open when the request ends, so no connection goes
 *  back to mod_dbd's pool in the middle of one.  db must live in the
 *  request pool. */
int tb_db_begin_read_committed(tb_db_t *db, tb_db_error_t *err);

/** Commits; on failure the transaction is rolled back. */
int tb_db_commit(tb_db_t *db, tb_db_error_t *err);

/** Rolls back the open transaction, if any. */
void tb_db_rollback(tb_db_t *db);

/** 1 when code is a deadlock or a Galera certification failure (both
 *  1213): the transaction was rolled back and may simply run again.  A
 *  lock wait timeout is not: it has waited long enough already. */
int tb_db_is_retryable(int code);

/**
 * On a Galera node, waits until the node has applied every transaction
 * the cluster had committed when it was called (wsrep_sync_wait, for one
 * statement), so that what it reads next is at least that recent.  On a
 * server without Galera the statement returns at once.  Outside a
 * transaction only: inside one, the server skips the wait.
 * @return 0, or the error (1205 when the wait timed out: busy)
 */
int tb_db_causal_wait(tb_db_t *db, tb_db_error_t *err);

#endif /* TB_DB_H */
