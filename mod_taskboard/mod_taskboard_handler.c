/* mod_taskboard: a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/*
 * What the load and sync handlers share: method and content-type checks,
 * reading the package from the query or the body, borrowing mod_dbd's
 * connection, streaming the answer into the output filters, and JSON
 * error responses.  The handlers themselves are in mod_taskboard_load.c
 * and mod_taskboard_sync.c.
 */

#include <string.h>

#include <apr_strings.h>
#include <apr_buckets.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>

#include "mod_taskboard_private.h"
#include "tb_json.h"
#include "tb_stats.h"
#include "tb_request.h"

/* Seconds a client should wait before retrying when the database is away. */
#define TB_RETRY_AFTER "5"

/* What a CORS preflight is told: the request headers a front end may
 * send (the Bryntum client sends Content-Type; X-Requested-With and
 * Authorization are common additions, Last-Event-ID is the event
 * stream's resume header), and how long the browser may keep the answer:
 * ten minutes, so that a changed TaskBoardAllowOrigin soon applies. */
#define TB_CORS_ALLOW_HEADERS "Content-Type, X-Requested-With, " \
                              "Authorization, Last-Event-ID"
#define TB_CORS_MAX_AGE "600"

/* mod_dbd hands out a pooled connection after a ping; after a database
 * restart each stale pooled connection fails once, so try a few. */
#define TB_ACQUIRE_ATTEMPTS 3

/* Where tb_acquire_db notes the request's loan (r->pool user data), so
 * that whatever writes to the client gives the connection back first. */
#define TB_LOAN_KEY "taskboard-loan"

/************ responses ***************************************************/

/* Moves what bb holds to the end of the spool file, which is created
 * (and at once unlinked, so that nothing is left behind even by a
 * process that dies) on first use. */
static apr_status_t spill(tb_out_t *out)
{
    apr_pool_t *pool = out->r->pool;
    apr_bucket *b;
    apr_status_t rv;

    if (!out->spool_file) {
        const char *dir;
        char *path;

        if ((rv = apr_temp_dir_get(&dir, pool)) != APR_SUCCESS) {
            return rv;
        }
        path = apr_pstrcat(pool, dir, "/mod_taskboard-XXXXXX", NULL);
        rv = apr_file_mktemp(&out->spool_file, path, APR_FOPEN_CREATE
                             | APR_FOPEN_READ | APR_FOPEN_WRITE
                             | APR_FOPEN_EXCL, pool);
        if (rv != APR_SUCCESS) {
            out->spool_file = NULL;
            return rv;
        }
        apr_file_remove(path, pool);
    }
    for (b = APR_BRIGADE_FIRST(out->bb); b != APR_BRIGADE_SENTINEL(out->bb);
         b = APR_BUCKET_NEXT(b)) {
        const char *data;
        apr_size_t len;

        if ((rv = apr_bucket_read(b, &data, &len, APR_BLOCK_READ))
                != APR_SUCCESS
            || (rv = apr_file_write_full(out->spool_file, data, len, NULL))
                != APR_SUCCESS) {
            return rv;
        }
        out->spooled += len;
    }
    apr_brigade_cleanup(out->bb);
    return APR_SUCCESS;
}

int tb_out_sink(void *ctx, const char *buf, apr_size_t len)
{
    tb_out_t *out = ctx;

    if (out->status != APR_SUCCESS) {
        return 1;
    }
    apr_brigade_write(out->bb, NULL, NULL, buf, len);
    out->pending += len;
    if (out->pending >= TB_FLUSH_BYTES) {
        out->pending = 0;
        if (out->spooling) {
            if ((out->status = spill(out)) != APR_SUCCESS) {
                out->spool_failed = 1;
            }
            return out->status != APR_SUCCESS;
        }
        out->committed = 1;
        tb_release_request_db(out->r);
        out->status = ap_pass_brigade(out->r->output_filters, out->bb);
        apr_brigade_cleanup(out->bb);
    }
    return out->status != APR_SUCCESS;
}

void tb_out_init(tb_out_t *out, request_rec *r)
{
    memset(out, 0, sizeof(*out));
    out->r = r;
    out->bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    out->status = APR_SUCCESS;
}

void tb_out_spool(tb_out_t *out)
{
    out->spooling = 1;
}

void tb_out_discard(tb_out_t *out)
{
    apr_brigade_cleanup(out->bb);
    out->pending = 0;
    if (out->spool_file) {
        apr_file_close(out->spool_file);
        out->spool_file = NULL;
        out->spooled = 0;
    }
    out->status = APR_SUCCESS;
    out->spool_failed = 0;
}

apr_status_t tb_out_finish(tb_out_t *out)
{
    apr_bucket *eos = apr_bucket_eos_create(out->r->connection->bucket_alloc);

    if (out->status != APR_SUCCESS) {
        return out->status;
    }
    if (out->spool_file) {
        /* the spooled bytes first, then what is still in memory */
        apr_bucket_brigade *bb = apr_brigade_create(out->r->pool,
                                                    out->bb->bucket_alloc);
        apr_brigade_insert_file(bb, out->spool_file, 0, out->spooled,
                                out->r->pool);
        APR_BRIGADE_CONCAT(bb, out->bb);
        out->bb = bb;
    }
    APR_BRIGADE_INSERT_TAIL(out->bb, eos);
    out->committed = 1;
    tb_release_request_db(out->r);
    out->status = ap_pass_brigade(out->r->output_filters, out->bb);
    apr_brigade_cleanup(out->bb);
    return out->status;
}

int tb_send_error(request_rec *r, int status, const char *type,
                  const char *request_id, const char *message,
                  const tb_sync_t *invalid)
{
    tb_out_t out;
    tb_jw_t jw;

    r->status = status;
    ap_set_content_type(r, "application/json");
    if (status == HTTP_SERVICE_UNAVAILABLE
        && !apr_table_get(r->headers_out, "Retry-After")) {
        apr_table_setn(r->headers_out, "Retry-After", TB_RETRY_AFTER);
    }
    tb_out_init(&out, r);
    tb_jw_init(&jw, tb_out_sink, &out);
    tb_write_error(&jw, type, request_id, message, status, invalid);
    tb_jw_flush(&jw);
    tb_out_finish(&out);
    return OK;
}

int tb_check_method(request_rec *r, const char *type, const char *allow)
{
    int allow_get = strstr(allow, "GET") != NULL;
    int allow_post = strstr(allow, "POST") != NULL;
    /* OPTIONS is answered too, so every Allow header names it. */
    const char *allow_all = apr_pstrcat(r->pool, allow, ", OPTIONS", NULL);

    if (r->method_number == M_OPTIONS) {
        /* Not ap_send_http_options(): it lists the methods through httpd's
         * method registry, which is empty after the configuration is read
         * a second time, so it would answer "Allow: TRACE" only. */
        apr_table_setn(r->headers_out, "Allow", allow_all);
        return OK;
    }
    if (!(allow_post && r->method_number == M_POST)
        && !(allow_get && r->method_number == M_GET)) {
        apr_table_setn(r->headers_out, "Allow", allow_all);
        return tb_send_error(r, HTTP_METHOD_NOT_ALLOWED, type, NULL,
                             apr_psprintf(r->pool, "the %s method is not "
                                          "allowed here (use %s)", r->method,
                                          allow), NULL);
    }
    return DECLINED;
}

/* What of the location was declared with another scope than the one in
 * force, or NULL.  Startup refuses such configurations where it can tell
 * (TB00010); sections matched by regular expressions it cannot, and then
 * this keeps a board's request from reaching an unscoped table. */
static const char *scope_mismatch(request_rec *r, const tb_dir_conf_t *conf)
{
    const tb_scope_t *scope = conf->scope;
    int i;

    for (i = 0; i < conf->stores->nelts; i++) {
        const tb_store_t *store = APR_ARRAY_IDX(conf->stores, i,
                                                const tb_store_t *);
        if (store->scope != scope) {
            return apr_psprintf(r->pool, "<TaskBoardStore %s> at %s:%d",
                                store->id, store->defn_file,
                                store->defn_line);
        }
    }
    if (conf->revision && conf->revision->scope != scope) {
        return TB_CMD_REVISION;
    }
    if (conf->journal && conf->journal->scope != scope) {
        return TB_CMD_JOURNAL;
    }
    if (conf->idempotency && conf->idempotency->scope != scope) {
        return TB_CMD_RETRY;
    }
    return NULL;
}

int tb_check_scope(request_rec *r, const tb_dir_conf_t *conf,
                   const char *type)
{
    const char *what = scope_mismatch(r, conf);

    if (!what) {
        return DECLINED;
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, TBLOGNO(00162)
                  "%s for %s: %s is declared %s the " TB_CMD_SCOPE " that "
                  "applies here%s%s; declare it in the same section as "
                  TB_CMD_SCOPE ", after it", type, r->uri, what,
                  conf->scope ? "without" : "under another than",
                  conf->scope ? " at " : "",
                  conf->scope ? apr_psprintf(r->pool, "%s:%d",
                                             conf->scope->defn_file,
                                             conf->scope->defn_line) : "");
    return tb_send_error(r, HTTP_INTERNAL_SERVER_ERROR, type, NULL,
                         "this location is not configured consistently "
                         "(logged)", NULL);
}

const char *tb_cors_headers(request_rec *r, const tb_dir_conf_t *conf)
{
    const char *origin = apr_table_get(r->headers_in, "Origin");
    const char *allowed = tb_origin_allowed(conf->allow_origins, origin);

    if (conf->allow_origins) {
        /* The answer depends on Origin whatever it holds: a cache must
         * not give one origin's answer to another. */
        apr_table_mergen(r->err_headers_out, "Vary", "Origin");
    }
    if (allowed) {
        /* err_headers_out, the table httpd keeps when it puts an error
         * page of its own in place of the answer (a handler that returns
         * an HTTP status): without them the browser hides even the status
         * from the page. */
        apr_table_setn(r->err_headers_out, "Access-Control-Allow-Origin",
                       allowed);
        apr_table_setn(r->err_headers_out,
                       "Access-Control-Allow-Credentials", "true");
    }
    return allowed;
}

/* 1 when origin is the request's own: scheme://Host, as a browser writes
 * it (Host carries the port unless it is the scheme's default). */
static int same_origin(request_rec *r, const char *origin)
{
    const char *host = apr_table_get(r->headers_in, "Host");

    return host && strcasecmp(origin, apr_pstrcat(r->pool,
                                                  ap_http_scheme(r), "://",
                                                  host, NULL)) == 0;
}

/* Cross-origin requests: adds the CORS headers for an origin listed in
 * TaskBoardAllowOrigin (on error answers too), and answers a preflight
 * (204 for a listed origin, 403 otherwise).  methods is the handler's
 * TB_METHODS_*.  DECLINED means go on, else the result. */
static int check_cors(request_rec *r, const char *type, const char *methods)
{
    tb_dir_conf_t *conf = ap_get_module_config(r->per_dir_config,
                                               &taskboard_module);
    const char *origin = apr_table_get(r->headers_in, "Origin");
    const char *allowed = tb_cors_headers(r, conf);

    /* A page of any other site can make the browser POST a text/plain or
     * form body without asking first (no preflight), with the user's
     * cookies or Basic credentials: CORS only hides the answer.  A change
     * of the board must come from its own origin or a listed one.  Clients
     * that are not browsers send no Origin. */
    if (r->method_number == M_POST && strcmp(type, "sync") == 0 && origin
        && !allowed && !same_origin(r, origin)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, TBLOGNO(00151)
                      "sync from a page of origin %s refused: neither this "
                      "server's origin nor listed in " TB_CMD_ALLOW_ORIGIN,
                      origin);
        return tb_send_error(r, HTTP_FORBIDDEN, type, NULL,
                             "changes from pages of another origin are "
                             "refused (the server does not list it as an "
                             "allowed origin)", NULL);
    }
    if (r->method_number != M_OPTIONS || !origin
        || !apr_table_get(r->headers_in, "Access-Control-Request-Method")) {
        return DECLINED;
    }
    /* A preflight: the browser asks whether the page may send the real
     * request.  It comes without credentials (see docs/configuration.md, Cross-origin
     * front ends). */
    if (!allowed) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, TBLOGNO(00150)
                      "CORS preflight for %s from origin %s refused: not "
                      "listed in " TB_CMD_ALLOW_ORIGIN, r->uri, origin);
        return tb_send_error(r, HTTP_FORBIDDEN, type, NULL,
                             "pages of this origin may not use the board "
                             "(the server does not list it as an allowed "
                             "origin)", NULL);
    }
    apr_table_setn(r->headers_out, "Access-Control-Allow-Methods", methods);
    apr_table_setn(r->headers_out, "Access-Control-Allow-Headers",
                   TB_CORS_ALLOW_HEADERS);
    apr_table_setn(r->headers_out, "Access-Control-Max-Age",
                   TB_CORS_MAX_AGE);
    r->status = HTTP_NO_CONTENT;
    return OK;
}

int tb_check_request(request_rec *r, const tb_dir_conf_t *conf,
                     const char *type, int allow_get)
{
    int status = tb_check_method(r, type, allow_get ? TB_METHODS_LOAD
                                                    : TB_METHODS_SYNC);

    if (status != DECLINED
        || (status = tb_check_scope(r, conf, type)) != DECLINED) {
        return status;
    }
    if (conf->stores->nelts == 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, TBLOGNO(00102)
                      "SetHandler %s for %s, but no <TaskBoardStore> "
                      "applies to this location", r->handler, r->uri);
        return tb_send_error(r, HTTP_INTERNAL_SERVER_ERROR, type, NULL,
                             "this location serves no stores", NULL);
    }
    return DECLINED;
}

/************ the board ***************************************************/

int tb_request_board(request_rec *r, const tb_dir_conf_t *conf,
                     const char *type, const char **board)
{
    const tb_scope_t *scope = conf->scope;
    const char *raw = NULL, *msg = NULL;
    apr_size_t len = 0;

    *board = NULL;
    if (!scope) {
        return DECLINED;
    }
    if (scope->source == TB_SCOPE_ENV) {
        raw = apr_table_get(r->subprocess_env, scope->name);
    }
    else if (r->args) {
        raw = tb_form_value(r->pool, r->args, scope->name, &len);
        if (raw && strlen(raw) != len) {
            raw = "";           /* a %00 inside: refused below */
        }
    }
    *board = tb_scope_value(r->pool, scope, raw, &msg);
    if (*board) {
        return DECLINED;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, TBLOGNO(00160)
                  "%s refused: %s (%s %s, " TB_CMD_SCOPE " at %s:%d)", type,
                  msg, scope->source == TB_SCOPE_ENV ? "variable"
                                                     : "query parameter",
                  scope->name, scope->defn_file, scope->defn_line);
    return tb_send_error(r, HTTP_BAD_REQUEST, type, NULL,
                         scope->source == TB_SCOPE_PARAM
                             ? apr_psprintf(r->pool, "%s (query parameter "
                                            "'%s')", msg, scope->name)
                             : msg, NULL);
}

int tb_send_no_board(request_rec *r, const char *type,
                     const char *request_id, const char *board)
{
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, TBLOGNO(00161)
                  "%s requestId=%s: there is no board '%s' (no revision "
                  "row)", type, request_id ? request_id : "-", board);
    return tb_send_error(r, HTTP_NOT_FOUND, type, request_id,
                         "there is no such board", NULL);
}

/************ reading the package *****************************************/

/* Reads the whole body, up to max bytes, into one NUL-terminated buffer.
 * The pieces are kept in a brigade (set aside in r->pool) and copied
 * once at the end.  Returns OK, or an HTTP status with *msg set. */
static int read_body(request_rec *r, apr_off_t max, char **buf,
                     apr_size_t *len, const char **msg)
{
    apr_bucket_brigade *bb = apr_brigade_create(r->pool,
                                                r->connection->bucket_alloc);
    apr_bucket_brigade *body = apr_brigade_create(r->pool,
                                                  r->connection->bucket_alloc);
    const char *clen = apr_table_get(r->headers_in, "Content-Length");
    apr_off_t limit = (apr_off_t)ap_get_limit_req_body(r);
    const char *too_large;
    apr_off_t total = 0;
    apr_bucket *e;
    int seen_eos = 0;
    apr_status_t rv;

    /* A body that LimitRequestBody refuses as well is refused here, while
     * the answer can still be the module's: httpd's own 413 for it loses
     * the headers of the answer (the CORS headers among them), so a
     * cross-origin page could not read it.  (A chunked body over the
     * limit still meets httpd's own, since its size shows only as it is
     * read.) */
    if (limit > 0 && limit < max) {
        max = limit;
    }
    too_large = apr_psprintf(r->pool, "the request body is larger than the "
                             "%" APR_OFF_T_FMT " bytes allowed", max);
    *buf = NULL;
    *len = 0;
    if (clen && apr_atoi64(clen) > max) {
        *msg = too_large;
        return HTTP_REQUEST_ENTITY_TOO_LARGE;
    }
    do {
        rv = ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES,
                            APR_BLOCK_READ, HUGE_STRING_LEN);
        if (rv != APR_SUCCESS) {
            *msg = "the request body could not be read";
            return ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
        }
        while (!APR_BRIGADE_EMPTY(bb)) {
            e = APR_BRIGADE_FIRST(bb);
            if (APR_BUCKET_IS_EOS(e)) {
                seen_eos = 1;
            }
            if (APR_BUCKET_IS_METADATA(e)) {
                apr_bucket_delete(e);
                continue;
            }
            /* chunked and chunk-less bodies alike: count as we go */
            if (e->length == (apr_size_t)-1) {
                const char *data;
                apr_size_t n;
                rv = apr_bucket_read(e, &data, &n, APR_BLOCK_READ);
                if (rv != APR_SUCCESS) {
                    *msg = "the request body could not be read";
                    return HTTP_BAD_REQUEST;
                }
            }
            total += (apr_off_t)e->length;
            if (total > max) {
                *msg = too_large;
                return HTTP_REQUEST_ENTITY_TOO_LARGE;
            }
            rv = apr_bucket_setaside(e, r->pool);
            if (rv != APR_SUCCESS && rv != APR_ENOTIMPL) {
                *msg = "the request body could not be read";
                return HTTP_INTERNAL_SERVER_ERROR;
            }
            APR_BUCKET_REMOVE(e);
            APR_BRIGADE_INSERT_TAIL(body, e);
        }
    } while (!seen_eos);

    *len = (apr_size_t)total;
    *buf = apr_palloc(r->pool, *len + 1);
    apr_brigade_flatten(body, *buf, len);
    (*buf)[*len] = '\0';
    apr_brigade_destroy(body);
    return OK;
}

/* Media type of the request without parameters, lower case, or "". */
static const char *media_type(request_rec *r)
{
    const char *ct = apr_table_get(r->headers_in, "Content-Type");
    const char *semi;
    char *type;

    if (!ct) {
        return "";
    }
    semi = strchr(ct, ';');
    type = apr_pstrndup(r->pool, ct, semi ? (apr_size_t)(semi - ct)
                                          : strlen(ct));
    ap_str_tolower(type);
    apr_collapse_spaces(type, type);    /* returns the end, not the start */
    return type;
}

/* Finds the package: ?data= for GET; for POST a JSON body or a form
 * field.  Returns OK or an HTTP status with *msg set. */
int tb_read_package(request_rec *r, const tb_dir_conf_t *conf,
                        const char **text, apr_size_t *len, const char **msg)
{
    const char *param = tb_conf_param_name(conf), *type;
    char *body;
    apr_size_t body_len;
    int status;

    *text = NULL;
    *len = 0;
    if (r->method_number == M_POST) {
        type = media_type(r);
        if (*type && strcmp(type, "application/json") != 0
            && strcmp(type, "text/plain") != 0
            && strcmp(type, "application/x-www-form-urlencoded") != 0) {
            *msg = apr_psprintf(r->pool, "content type '%s' is not "
                                "supported: send application/json, "
                                "text/plain or a form field '%s'", type,
                                param);
            return HTTP_UNSUPPORTED_MEDIA_TYPE;
        }
        status = read_body(r, tb_conf_max_body(conf), &body, &body_len, msg);
        if (status != OK) {
            return status;
        }
        if (strcmp(type, "application/x-www-form-urlencoded") == 0) {
            *text = tb_form_value(r->pool, body ? body : "", param, len);
        }
        else if (body_len > 0) {
            *text = body;
            *len = body_len;
        }
    }
    /* The query string serves GET, and a POST whose body carried nothing. */
    if (!*text && r->args) {
        *text = tb_form_value(r->pool, r->args, param, len);
    }
    if (!*text) {
        *text = "";
        *len = 0;
    }
    return OK;
}

/************ the database ************************************************/

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
tb_db_t *tb_acquire_db(request_rec *r)
{
    ap_dbd_t *dbd = NULL;
    tb_req_stats_t *rs;
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
    if ((rs = tb_req_stats(r)) != NULL) {
        rs->db = db;
    }
    return db;
}

void tb_release_db(request_rec *r, tb_db_t *db)
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

void tb_release_request_db(request_rec *r)
{
    void *data = NULL;
    tb_loan_t *loan;

    apr_pool_userdata_get(&data, TB_LOAN_KEY, r->pool);
    loan = data;
    if (loan && loan->dbd) {
        tb_release_db(r, loan->db);
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

void tb_log_db_error(request_rec *r, const char *type,
                     const char *request_id, const char *store_id,
                     const tb_db_error_t *err)
{
    tb_req_stats_t *rs = tb_req_stats(r);

    if (rs) {
        rs->db_errors++;
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, TBLOGNO(00101)
                  "%s requestId=%s: %s%s%s failed: [%d] %s%s", type,
                  request_id ? request_id : "-", err->doing,
                  store_id ? " of store " : "", store_id ? store_id : "",
                  err->code, err->text && *err->text ? err->text
                                                     : "(no message)",
                  err->unavailable ? " (answered 503: try again later)" : "");
}

/* After the answer started to flow, an error can only cut it short:
 * close the connection without the final chunk, so the client sees a
 * broken response instead of a complete-looking partial board. */
void tb_out_abort(request_rec *r, tb_out_t *out)
{
    apr_bucket *e;

    r->connection->keepalive = AP_CONN_CLOSE;
    e = ap_bucket_error_create(HTTP_BAD_GATEWAY, NULL, r->pool,
                               r->connection->bucket_alloc);
    APR_BRIGADE_INSERT_TAIL(out->bb, e);
    tb_out_finish(out);
}

int tb_send_db_error(request_rec *r, const char *type,
                     const char *request_id, const char *store_id,
                     const tb_db_error_t *err)
{
    tb_log_db_error(r, type, request_id, store_id, err);
    if (err->unavailable) {
        return tb_send_error(r, HTTP_SERVICE_UNAVAILABLE, type, request_id,
                             TB_MSG_UNAVAILABLE, NULL);
    }
    return tb_send_error(r, HTTP_INTERNAL_SERVER_ERROR, type, request_id,
                         "the request failed because of a server error "
                         "(logged)", NULL);
}

/************ dispatch ****************************************************/

/* The handlers a browser page calls; the status page is for
 * administrators and answers no cross-origin requests. */
typedef struct tb_route_t {
    const char *handler;        /* SetHandler name */
    int (*handle)(request_rec *r);
    int kind;                   /* TB_STATS_* */
    const char *type;           /* "type" of its JSON answers */
    const char *methods;        /* TB_METHODS_* */
} tb_route_t;

static const tb_route_t tb_routes[] = {
    {TB_HANDLER_LOAD, tb_handle_load, TB_STATS_LOAD, "load",
     TB_METHODS_LOAD},
    {TB_HANDLER_SYNC, tb_handle_sync, TB_STATS_SYNC, "sync",
     TB_METHODS_SYNC},
    {TB_HANDLER_EVENTS, tb_handle_events, TB_STATS_EVENTS, "events",
     TB_METHODS_EVENTS},
    {NULL}
};

int tb_handler(request_rec *r)
{
    const tb_route_t *route;
    apr_time_t start;
    int rv;

    if (strcmp(r->handler, TB_HANDLER_STATUS) == 0) {
        return tb_handle_status(r);
    }
    for (route = tb_routes; route->handler; route++) {
        if (strcmp(r->handler, route->handler) == 0) {
            break;
        }
    }
    if (!route->handler) {
        return DECLINED;
    }
    if ((rv = check_cors(r, route->type, route->methods)) != DECLINED) {
        return rv;
    }
    start = apr_time_now();
    tb_stats_begin(r, route->kind);
    rv = route->handle(r);
    tb_stats_end(r, apr_time_now() - start);
    return rv;
}
