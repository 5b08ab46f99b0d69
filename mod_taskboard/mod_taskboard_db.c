/* mod_taskboard_db.c: mod_dbd's pooled connections, lent to a request.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/*
 * A request borrows one connection (tb_acquire_db) and gives it back as
 * soon as its answer no longer needs the database (tb_release_db), before
 * anything is written to the client: a client that reads slowly, or not
 * at all, holds no connection.  The request pool's cleanup gives it back
 * at the latest.
 */

#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

#include "mod_taskboard_private.h"
#include "tb_stats.h"

/* mod_dbd hands out a pooled connection after a ping; after a database
 * restart each stale pooled connection fails once, so try a few. */
#define TB_ACQUIRE_ATTEMPTS 3

/* Where tb_acquire_db notes the request's loan (r->pool user data), so
 * that whatever writes to the client gives the connection back first. */
#define TB_LOAN_KEY "taskboard-loan"

ap_dbd_t *(*tb_dbd_open_fn)(apr_pool_t *, server_rec *) = NULL;
void (*tb_dbd_close_fn)(server_rec *, ap_dbd_t *) = NULL;

void tb_retrieve_dbd_functions(void)
{
    /* Requests and the events poller borrow connections with
     * ap_dbd_open and give them back with ap_dbd_close, as soon as they
     * are done with the database (tb_acquire_db says why). */
    if (!tb_dbd_open_fn || !tb_dbd_close_fn) {
        tb_dbd_open_fn = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_open);
        tb_dbd_close_fn = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_close);
    }
}

/* A connection lent to a request: given back to mod_dbd by
 * tb_release_db as soon as the answer no longer needs the database, or
 * by the request pool's cleanup at the latest. */
typedef struct tb_loan_t {
    server_rec *s;
    ap_dbd_t *dbd;
    tb_db_t *db;
} tb_loan_t;

static apr_status_t give_back_db(void *data)
{
    tb_loan_t *loan = data;

    if (loan->dbd) {
        tb_db_end_loan(loan->db);
        tb_dbd_close_fn(loan->s, loan->dbd);
        loan->dbd = NULL;
    }
    return APR_SUCCESS;
}

/* Borrows a connection from mod_dbd for this request.  Not
 * ap_dbd_acquire(): its connection goes back only when the request pool
 * is destroyed, after the answer has been written, so a client that
 * reads slowly (or never) would keep it, and enough of them would keep
 * every pooled connection.  The tb_db_t lives in r->pool: a transaction's
 * rollback cleanup points at it, and is registered after give_back_db,
 * so it runs first. */
tb_db_t *tb_acquire_db(tb_req_t *tr)
{
    request_rec *r = tr->r;
    ap_dbd_t *dbd = NULL;
    tb_loan_t *loan;
    tb_db_t *db;
    int attempt;

    if (!tb_dbd_open_fn || !tb_dbd_close_fn) {
        return NULL;
    }
    for (attempt = 0; !dbd && attempt < TB_ACQUIRE_ATTEMPTS; attempt++) {
        dbd = tb_dbd_open_fn(r->pool, r->server);
    }
    if (!dbd) {
        return NULL;
    }
    loan = apr_palloc(r->pool, sizeof(*loan));
    loan->s = r->server;
    loan->dbd = dbd;
    apr_pool_cleanup_register(r->pool, loan, give_back_db,
                              apr_pool_cleanup_null);
    db = tb_db_wrap(r->pool, dbd);
    db->lent = loan;
    loan->db = db;
    apr_pool_userdata_setn(loan, TB_LOAN_KEY, NULL, r->pool);
    if (tr->stats) {
        tr->stats->db = db;
    }
    tr->db = db;
    return db;
}

/* Gives a lent connection back; a connection that was not lent (the
 * events handler's own) is left alone. */
static void release(request_rec *r, tb_db_t *db)
{
    tb_loan_t *loan = db ? db->lent : NULL;

    if (!loan) {
        return;
    }
    /* Never hand back a connection inside a transaction: the next
     * borrower would run in it.  The callers have ended theirs; this
     * only guards a path that forgot. */
    tb_db_rollback(db);
    apr_pool_cleanup_run(r->pool, loan, give_back_db);
    db->lent = NULL;
    db->handle = NULL;
    db->prepared = NULL;
}

void tb_release_db(tb_req_t *tr)
{
    release(tr->r, tr->db);
    tr->db = NULL;
}

void tb_release_request_db(request_rec *r)
{
    void *data = NULL;
    tb_loan_t *loan;

    apr_pool_userdata_get(&data, TB_LOAN_KEY, r->pool);
    loan = data;
    if (loan && loan->dbd) {
        release(r, loan->db);
    }
}

tb_db_t *tb_db_wrap(apr_pool_t *pool, ap_dbd_t *dbd)
{
    tb_db_t *db = apr_pcalloc(pool, sizeof(*db));

    db->driver = dbd->driver;
    db->handle = dbd->handle;
    db->prepared = dbd->prepared;
    db->conn_pool = dbd->pool;
    db->pool = pool;
    return db;
}
