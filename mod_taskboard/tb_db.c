/* tb_db.c: the APR DBD calls: prepared statements, drained results, errors.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

#include <string.h>

#include <apr_strings.h>

#include "tb_db.h"

/* MySQL client errors that mean the connection is gone. */
#define CR_CONNECTION_ERROR 2002
#define CR_CONN_HOST_ERROR 2003
#define CR_SERVER_GONE_ERROR 2006
#define CR_SERVER_LOST 2013
#define CR_NO_PREPARE_STMT 2030
#define CR_SERVER_LOST_EXTENDED 2055
#define ER_UNKNOWN_STMT_HANDLER 1243
/* Server errors after which the same request would succeed a moment
 * later: the server is going down, or an administrator (or a watchdog)
 * killed the statement or the whole connection. */
#define ER_SERVER_SHUTDOWN 1053
#define ER_QUERY_INTERRUPTED TB_ER_QUERY_INTERRUPTED
#define ER_CONNECTION_KILLED 1927
/* Galera: the node is not part of the Primary component (isolated,
 * joining, or the cluster lost its quorum) and serves no queries. */
#define ER_UNKNOWN_COM_ERROR 1047
/* Lost to another transaction (InnoDB's deadlock, or Galera's
 * certification failure and brute-force abort, at any statement
 * including COMMIT), or waited too long for one (a row lock, or a Galera
 * causal read); the database is fine and the request may succeed a
 * moment later. */
#define ER_LOCK_WAIT_TIMEOUT 1205
#define ER_LOCK_DEADLOCK 1213
/* SET TRANSACTION while a transaction is open. */
#define ER_TRANSACTION_IN_PROGRESS 1568
/* A server that does not know SET STATEMENT or wsrep_sync_wait. */
#define ER_PARSE_ERROR TB_ER_PARSE_ERROR
#define ER_UNKNOWN_SYSTEM_VARIABLE 1193
/* A packet larger than max_allowed_packet: the server's answer to a
 * statement too large (it then closes the connection), and the client's
 * when a packet it reads is. */
#define ER_NET_PACKET_TOO_LARGE 1153
#define CR_NET_PACKET_TOO_LARGE 2020

int tb_db_fail(tb_db_t *db, int code, const char *doing, tb_db_error_t *err)
{
    const char *text = apr_dbd_error(db->driver, db->handle, code);

    /* The text lives in the connection and the next call replaces it. */
    err->code = code;
    err->text = apr_pstrdup(db->pool, text ? text : "");
    err->doing = doing;
    err->unavailable = code == CR_CONNECTION_ERROR
                       || code == CR_CONN_HOST_ERROR
                       || code == CR_SERVER_GONE_ERROR
                       || code == CR_SERVER_LOST
                       || code == CR_SERVER_LOST_EXTENDED
                       || code == ER_SERVER_SHUTDOWN
                       || code == ER_QUERY_INTERRUPTED
                       || code == ER_CONNECTION_KILLED
                       || code == ER_UNKNOWN_COM_ERROR;
    err->busy = code == ER_LOCK_DEADLOCK || code == ER_LOCK_WAIT_TIMEOUT;
    if (!err->unavailable
        && apr_dbd_check_conn(db->driver, db->pool, db->handle)
           != APR_SUCCESS) {
        err->unavailable = 1;
    }
    return code ? code : -1;
}

int tb_db_fail_reading(tb_db_t *db, const char *doing, tb_db_error_t *err)
{
    tb_db_fail(db, 0, doing, err);
    err->unavailable = 1;
    return -1;
}

int tb_db_is_too_large(int code)
{
    return code == ER_NET_PACKET_TOO_LARGE || code == CR_NET_PACKET_TOO_LARGE;
}

int tb_db_is_stale_statement(int code)
{
    return code == CR_NO_PREPARE_STMT || code == ER_UNKNOWN_STMT_HANDLER;
}

int tb_db_prepared(tb_db_t *db, const char *label, const char *sql,
                   int force, apr_dbd_prepared_t **stmt, tb_db_error_t *err)
{
    int rv;

    if (!db->prepared) {
        db->prepared = apr_hash_make(db->conn_pool);
    }
    *stmt = force ? NULL : apr_hash_get(db->prepared, label,
                                        APR_HASH_KEY_STRING);
    if (*stmt) {
        return 0;
    }
    /* Prepared in the connection's pool: it lives as long as the
     * connection, and the connection is ours alone until the request
     * ends, so the shared hash is safe to change. */
    rv = apr_dbd_prepare(db->driver, db->conn_pool, db->handle, sql,
                         NULL, stmt);
    if (rv != 0) {
        *stmt = NULL;
        return tb_db_fail(db, rv, "preparing a statement", err);
    }
    if (!apr_hash_get(db->prepared, label, APR_HASH_KEY_STRING)) {
        label = apr_pstrdup(db->conn_pool, label);
    }
    apr_hash_set(db->prepared, label, APR_HASH_KEY_STRING, *stmt);
    return 0;
}

int tb_db_select_value(tb_db_t *db, const char *sql, const char **value,
                       tb_db_error_t *err)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    const char *text;
    int rv;

    *value = NULL;
    rv = apr_dbd_select(db->driver, db->pool, db->handle, &res, sql, 0);
    if (rv != 0) {
        return tb_db_fail(db, rv, "reading a value", err);
    }
    /* Read to the end: an undrained result blocks the connection. */
    while (apr_dbd_get_row(db->driver, db->pool, res, &row, -1) == 0) {
        if (!*value) {
            text = apr_dbd_get_entry(db->driver, row, 0);
            *value = text ? apr_pstrdup(db->pool, text) : NULL;
        }
    }
    text = apr_dbd_error(db->driver, db->handle, 0);
    if (text && *text) {
        return tb_db_fail_reading(db, "reading a value", err);
    }
    return 0;
}

int tb_db_statement(tb_db_t *db, const char *sql, int force,
                    apr_dbd_prepared_t **stmt, tb_db_error_t *err)
{
    apr_pool_t *pool = db->conn_pool;
    int rv;

    if (!db->request_stmts) {
        db->request_stmts = apr_hash_make(db->pool);
    }
    if (!db->prepared) {
        db->prepared = apr_hash_make(db->conn_pool);
    }
    *stmt = force ? NULL : apr_hash_get(db->prepared, sql,
                                        APR_HASH_KEY_STRING);
    if (!*stmt) {
        /* Kept in the connection's pool, as long as the connection lives
         * (it is this borrower's alone until it goes back, so the shared
         * hash is safe to change), unless the connection already keeps
         * its share: then it is closed when the loan ends (tb_db_end_loan),
         * never later, when another thread may have the connection. */
        if (!force && apr_hash_count(db->prepared)
                      >= TB_DB_MAX_KEPT_STATEMENTS) {
            if (!db->loan_pool
                && apr_pool_create(&db->loan_pool, db->pool)
                   != APR_SUCCESS) {
                db->loan_pool = NULL;
                return tb_db_fail(db, 0, "preparing a statement", err);
            }
            pool = db->loan_pool;
        }
        rv = apr_dbd_prepare(db->driver, pool, db->handle, sql, NULL, stmt);
        if (rv != 0) {
            *stmt = NULL;
            return tb_db_fail(db, rv, "preparing a statement", err);
        }
        if (pool == db->conn_pool) {
            if (!apr_hash_get(db->prepared, sql, APR_HASH_KEY_STRING)) {
                sql = apr_pstrdup(db->conn_pool, sql);
            }
            apr_hash_set(db->prepared, sql, APR_HASH_KEY_STRING, *stmt);
        }
    }
    apr_hash_set(db->request_stmts, sql, APR_HASH_KEY_STRING, *stmt);
    return 0;
}

void tb_db_end_loan(tb_db_t *db)
{
    if (db && db->loan_pool) {
        apr_pool_destroy(db->loan_pool);
        db->loan_pool = NULL;
        db->request_stmts = NULL;
    }
}

/* A statement that was never prepared is a bug in the module: fail the
 * request (500) instead of handing NULL to the driver. */
static int not_prepared(tb_db_t *db, const char *doing, tb_db_error_t *err)
{
    err->code = 0;
    err->text = "internal error: statement not prepared";
    err->doing = doing;
    err->unavailable = 0;
    (void)db;
    return -1;
}

int tb_db_exec(tb_db_t *db, apr_dbd_prepared_t *stmt, int nargs,
               const char **args, int *nrows, const char *doing,
               tb_db_error_t *err)
{
    int rv, rows = 0;

    if (!stmt) {
        return not_prepared(db, doing, err);
    }
    rv = apr_dbd_pquery(db->driver, db->pool, db->handle, &rows, stmt,
                        nargs, args);
    if (nrows) {
        *nrows = rows;
    }
    return rv ? tb_db_fail(db, rv, doing, err) : 0;
}

int tb_db_exec_may_fail(tb_db_t *db, apr_dbd_prepared_t *stmt, int nargs,
                        const char **args, int *nrows, const char *doing,
                        tb_db_error_t *err)
{
    /* Without the driver's transaction object nothing remembers the
     * failure: MySQL undoes the one statement and the transaction goes
     * on, which is what the caller wants here. */
    return tb_db_exec(db, stmt, nargs, args, nrows, doing, err);
}

/* A value that could not be read whole: the request fails (500) rather
 * than answer with part of it. */
static int entry_failed(tb_db_t *db, int col, apr_off_t len,
                        apr_status_t rv, const char *doing,
                        tb_db_error_t *err)
{
    err->code = 0;
    err->text = apr_psprintf(db->pool, "the value of column %d (%"
                             APR_OFF_T_FMT " bytes) could not be read "
                             "whole (status %d)", col + 1, len, rv);
    err->doing = doing;
    err->unavailable = 0;
    return -1;
}

int tb_db_entry(tb_db_t *db, apr_dbd_row_t *row, int col, apr_pool_t *pool,
                const char **value, const char *doing, tb_db_error_t *err)
{
    char *text = NULL, *copy;
    apr_off_t len = -1;
    apr_size_t n, got;
    apr_status_t rv;

    *value = NULL;
    /* The text as the driver has it, with a NUL put in the buffer's last
     * byte: safe to measure, whatever the buffer holds. */
    rv = apr_dbd_datum_get(db->driver, row, col, APR_DBD_TYPE_STRING, &text);
    if (rv == APR_ENOENT) {
        return 0;                       /* SQL NULL */
    }
    if (rv != APR_SUCCESS || !text) {
        return entry_failed(db, col, len, rv, doing, err);
    }
    n = strlen(text);
    /* The real length: the BLOB datum is a bucket of that length (not
     * read yet).  Getting it fetches the column into the buffer again,
     * which puts back the byte the NUL above replaced. */
    if (!db->values) {
        db->values = apr_brigade_create(db->pool,
                                        apr_bucket_alloc_create(db->pool));
    }
    rv = apr_dbd_datum_get(db->driver, row, col, APR_DBD_TYPE_BLOB,
                           db->values);
    if (rv == APR_SUCCESS) {
        rv = apr_brigade_length(db->values, 0, &len);
    }
    if (rv != APR_SUCCESS || len < 0) {
        apr_brigade_cleanup(db->values);
        return entry_failed(db, col, len, rv, doing, err);
    }
    if ((apr_off_t)n >= len) {
        /* all of it in the buffer (the driver adds no NUL to a binary
         * value, hence the copy of exactly len bytes) */
        apr_brigade_cleanup(db->values);
        *value = apr_pstrmemdup(pool, text, (apr_size_t)len);
        return 0;
    }
    /* Longer than the buffer (or holding a NUL): the bucket fetches the
     * rest from the row the driver holds, a buffer's size at a time. */
    copy = apr_palloc(pool, (apr_size_t)len + 1);
    got = (apr_size_t)len;
    rv = apr_brigade_flatten(db->values, copy, &got);
    apr_brigade_cleanup(db->values);
    if (rv != APR_SUCCESS || got != (apr_size_t)len) {
        return entry_failed(db, col, len, rv, doing, err);
    }
    copy[got] = '\0';
    *value = copy;
    return 0;
}

/* Runs a prepared SELECT and reads its result to the end (an undrained
 * result blocks the connection), calling fn for each row; fn copies what
 * it keeps into db->pool with tb_db_entry, and a row it fails on fails
 * the SELECT (once every row is read).
 *
 * The driver gives every TEXT or BLOB column of a prepared result a buffer
 * of its full size (up to DBDParams fldsz, 1 MiB), so one row of a table
 * with a JSON column costs a megabyte.  Taken from a subpool that is
 * destroyed at once, that memory goes back to the thread's allocator and
 * serves the next SELECT, instead of being mapped and unmapped each time;
 * so do the pieces in which tb_db_entry reads longer values. */
typedef int (*row_fn)(tb_db_t *db, apr_dbd_row_t *row, void *baton,
                      const char *doing, tb_db_error_t *err);

static int run_select(tb_db_t *db, apr_dbd_prepared_t *stmt, int nargs,
                      const char **args, row_fn fn, void *baton,
                      const char *doing, tb_db_error_t *err)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    apr_pool_t *scratch;
    int rv, failed = 0;

    if (!stmt) {
        return not_prepared(db, doing, err);
    }
    if (apr_pool_create(&scratch, db->pool) != APR_SUCCESS) {
        return not_prepared(db, doing, err);
    }
    rv = apr_dbd_pselect(db->driver, scratch, db->handle, &res, stmt, 0,
                         nargs, args);
    if (rv == 0) {
        while ((rv = apr_dbd_get_row(db->driver, scratch, res, &row, -1))
               == 0) {
            if (!failed && fn(db, row, baton, doing, err) != 0) {
                failed = 1;
            }
        }
        rv = rv == -1 ? 0 : rv;
    }
    if (rv != 0) {
        tb_db_fail(db, rv, doing, err);
    }
    apr_pool_destroy(scratch);
    return rv ? rv : (failed ? -1 : 0);
}

/* Copies ncols values of row into db->pool. */
static int copy_row(tb_db_t *db, apr_dbd_row_t *row, int ncols,
                    const char ***values, const char *doing,
                    tb_db_error_t *err)
{
    int i;

    *values = apr_pcalloc(db->pool, sizeof(char *) * ncols);
    for (i = 0; i < ncols; i++) {
        if (tb_db_entry(db, row, i, db->pool, &(*values)[i], doing, err)) {
            return -1;
        }
    }
    return 0;
}

typedef struct {
    int ncols;
    const char **values;
} first_row_t;

static int take_first_row(tb_db_t *db, apr_dbd_row_t *row, void *baton,
                          const char *doing, tb_db_error_t *err)
{
    first_row_t *first = baton;

    if (first->values) {
        return 0;
    }
    return copy_row(db, row, first->ncols, &first->values, doing, err);
}

int tb_db_select_row(tb_db_t *db, apr_dbd_prepared_t *stmt, int nargs,
                     const char **args, int ncols, const char ***values,
                     const char *doing, tb_db_error_t *err)
{
    first_row_t first;
    int rv;

    first.ncols = ncols;
    first.values = NULL;
    *values = NULL;
    if ((rv = run_select(db, stmt, nargs, args, take_first_row, &first,
                         doing, err)) != 0) {
        return rv;
    }
    *values = first.values;
    return 0;
}

static int take_column(tb_db_t *db, apr_dbd_row_t *row, void *baton,
                       const char *doing, tb_db_error_t *err)
{
    const char *v;

    if (tb_db_entry(db, row, 0, db->pool, &v, doing, err)) {
        return -1;
    }
    APR_ARRAY_PUSH((apr_array_header_t *)baton, const char *) = v;
    return 0;
}

int tb_db_select_column(tb_db_t *db, apr_dbd_prepared_t *stmt, int nargs,
                        const char **args, apr_array_header_t *out,
                        const char *doing, tb_db_error_t *err)
{
    return run_select(db, stmt, nargs, args, take_column, out, doing, err);
}

typedef struct {
    int ncols;
    apr_array_header_t *out;
} all_rows_t;

static int take_row(tb_db_t *db, apr_dbd_row_t *row, void *baton,
                    const char *doing, tb_db_error_t *err)
{
    all_rows_t *all = baton;
    const char **values;

    if (copy_row(db, row, all->ncols, &values, doing, err)) {
        return -1;
    }
    APR_ARRAY_PUSH(all->out, const char **) = values;
    return 0;
}

int tb_db_select_rows(tb_db_t *db, apr_dbd_prepared_t *stmt, int nargs,
                      const char **args, int ncols, apr_array_header_t *out,
                      const char *doing, tb_db_error_t *err)
{
    all_rows_t all;

    all.ncols = ncols;
    all.out = out;
    return run_select(db, stmt, nargs, args, take_row, &all, doing, err);
}

int tb_db_query_rows(tb_db_t *db, const char *sql, int nargs,
                     const char **args, int ncols, apr_array_header_t *out,
                     const char *doing, tb_db_error_t *err)
{
    apr_dbd_prepared_t *stmt;
    int attempt, rv = 0;

    for (attempt = 0; attempt < 2; attempt++) {
        apr_array_clear(out);
        rv = tb_db_statement(db, sql, attempt > 0, &stmt, err)
             || tb_db_select_rows(db, stmt, nargs, args, ncols, out, doing,
                                  err);
        if (!rv || !tb_db_is_stale_statement(err->code)) {
            break;
        }
    }
    return rv;
}

static apr_status_t rollback_cleanup(void *data)
{
    tb_db_rollback((tb_db_t *)data);
    return APR_SUCCESS;
}

static int begin(tb_db_t *db, const char *sql, tb_db_error_t *err)
{
    int rv, nrows = 0;

    if (db->in_transaction) {
        tb_db_rollback(db);
    }
    rv = apr_dbd_query(db->driver, db->handle, &nrows, sql);
    if (rv != 0) {
        return tb_db_fail(db, rv, "starting a transaction", err);
    }
    db->in_transaction = 1;
    /* Registered after mod_dbd's release cleanup, so it runs first. */
    if (!db->rollback_registered) {
        apr_pool_cleanup_register(db->pool, db, rollback_cleanup,
                                  apr_pool_cleanup_null);
        db->rollback_registered = 1;
    }
    return 0;
}

/* Ends whatever transaction the server still has open on the connection,
 * though the module ended its own: a ROLLBACK or COMMIT that a KILL QUERY
 * interrupted before it ran leaves it so.  START TRANSACTION would commit
 * it silently. */
static void end_leftover(tb_db_t *db)
{
    int nrows = 0;

    apr_dbd_query(db->driver, db->handle, &nrows, "ROLLBACK");
}

int tb_db_begin_read_committed(tb_db_t *db, tb_db_error_t *err)
{
    int rv, nrows = 0, attempt;

    if (db->in_transaction) {
        tb_db_rollback(db);
    }
    /* for the next transaction only; refused while one is open, which
     * tells a leftover (end_leftover) */
    for (attempt = 0; attempt < 2; attempt++) {
        rv = apr_dbd_query(db->driver, db->handle, &nrows,
                           "SET TRANSACTION ISOLATION LEVEL READ COMMITTED");
        if (rv != ER_TRANSACTION_IN_PROGRESS) {
            break;
        }
        end_leftover(db);
    }
    if (rv != 0) {
        return tb_db_fail(db, rv, "starting a transaction", err);
    }
    return begin(db, "START TRANSACTION", err);
}

int tb_db_begin_snapshot(tb_db_t *db, tb_db_error_t *err)
{
    return begin(db, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
                 err);
}

int tb_db_commit(tb_db_t *db, tb_db_error_t *err)
{
    int rv, nrows = 0;

    if (!db->in_transaction) {
        return 0;
    }
    db->in_transaction = 0;
    /* The callers never get here after a failed statement: they roll
     * back instead. */
    rv = apr_dbd_query(db->driver, db->handle, &nrows, "COMMIT");
    if (rv == 0) {
        return 0;
    }
    tb_db_fail(db, rv, "committing", err);
    if (!err->unavailable || rv == ER_QUERY_INTERRUPTED) {
        /* refused or interrupted before it ran: the transaction is still
         * open on the server, and must not wait for the connection's
         * next START TRANSACTION to commit it */
        db->rollbacks++;
        end_leftover(db);
    }
    return rv;
}

void tb_db_rollback(tb_db_t *db)
{
    int nrows = 0;

    if (db->in_transaction) {
        db->in_transaction = 0;
        db->rollbacks++;
        /* A lost connection took the transaction along; nothing to do.
         * One interrupted before it ran (KILL QUERY) is sent again. */
        if (apr_dbd_query(db->driver, db->handle, &nrows, "ROLLBACK")
            == ER_QUERY_INTERRUPTED) {
            end_leftover(db);
        }
    }
}

int tb_db_is_retryable(int code)
{
    return code == ER_LOCK_DEADLOCK;
}

int tb_db_causal_wait(tb_db_t *db, tb_db_error_t *err)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int rv;

    /* Rare (a client ahead of this node), so not kept prepared.  SET
     * STATEMENT leaves the session's own wsrep_sync_wait (DBDInitSQL may
     * set it) as it was.  The variable exists in every MariaDB built with
     * wsrep, as Debian's is; with wsrep off the wait is a no-op. */
    rv = apr_dbd_select(db->driver, db->pool, db->handle, &res,
                        "SET STATEMENT wsrep_sync_wait = 1 FOR SELECT 1", 0);
    if (rv == ER_PARSE_ERROR || rv == ER_UNKNOWN_SYSTEM_VARIABLE) {
        return 0;               /* MySQL, or a MariaDB without wsrep */
    }
    if (rv != 0) {
        return tb_db_fail(db, rv, "waiting for the cluster (causal read)",
                          err);
    }
    while (apr_dbd_get_row(db->driver, db->pool, res, &row, -1) == 0) {
    }
    return 0;
}
