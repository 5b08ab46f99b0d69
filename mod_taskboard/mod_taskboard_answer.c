/* mod_taskboard_answer.c: the answer on its way to the client, and the
 * module's JSON error answers.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/*
 * An answer is written through a tb_out_t: collected up to TB_FLUSH_BYTES
 * (so that small answers carry a Content-Length and an error found on the
 * way can still become a clean JSON error), or spooled to an unlinked
 * temporary file until the database is done with.  Every error answer is
 * {"success":false,"type","requestId","message","code"}; httpd's own error
 * answers on a board's location (401 and 403 of mod_auth*, 413 of
 * LimitRequestBody, ...) get the same body from a filter, so that the
 * client's error handling sees one format.
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
#include <util_filter.h>

#include "mod_taskboard_private.h"
#include "tb_answer.h"
#include "tb_json.h"
#include "tb_stats.h"

/* Seconds a client should wait before retrying when the database is away. */
#define TB_RETRY_AFTER "5"

#define TB_JSON_ERROR_FILTER "TASKBOARD_JSON_ERROR"

/************ the body ****************************************************/

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

/************ errors ******************************************************/

int tb_send_error(tb_req_t *tr, int status, const char *message,
                  const tb_sync_t *invalid)
{
    request_rec *r = tr->r;
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
    tb_write_error(&jw, tr->op, tr->request_id, message, status, invalid);
    tb_jw_flush(&jw);
    tb_out_finish(&out);
    return OK;
}

int tb_send_no_board(tb_req_t *tr)
{
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, tr->r, TBLOGNO(00161)
                  "%s requestId=%s: there is no board '%s' (no revision "
                  "row)", tr->op, TB_RID(tr), tr->board);
    return tb_send_error(tr, HTTP_NOT_FOUND, "there is no such board", NULL);
}

void tb_log_db_error(tb_req_t *tr, const char *store_id,
                     const tb_db_error_t *err)
{
    if (tr->stats) {
        tr->stats->db_errors++;
    }
    /* A transaction lost to another, or a wait that ran out, is the
     * database working as designed under load: a warning. */
    ap_log_rerror(APLOG_MARK, err->busy ? APLOG_WARNING : APLOG_ERR, 0,
                  tr->r, TBLOGNO(00101)
                  "%s requestId=%s: %s%s%s failed: [%d] %s%s", tr->op,
                  TB_RID(tr), err->doing,
                  store_id ? " of store " : "", store_id ? store_id : "",
                  err->code, err->text && *err->text ? err->text
                                                     : "(no message)",
                  err->unavailable || err->busy
                      ? " (answered 503: try again later)" : "");
}

int tb_send_db_error(tb_req_t *tr, const char *store_id,
                     const tb_db_error_t *err)
{
    tb_log_db_error(tr, store_id, err);
    if (err->unavailable || err->busy) {
        return tb_send_error(tr, HTTP_SERVICE_UNAVAILABLE, err->unavailable
                             ? TB_MSG_UNAVAILABLE : TB_MSG_BUSY, NULL);
    }
    return tb_send_error(tr, HTTP_INTERNAL_SERVER_ERROR, "the request "
                         "failed because of a server error (logged)", NULL);
}

/************ httpd's own errors as JSON **********************************/

/* "load", "sync" or "events": what the location's SetHandler says.  An
 * error of authentication comes before the fixups that set r->handler,
 * so the configured expression is read. */
static const char *handler_type(request_rec *r)
{
    core_dir_config *d = ap_get_core_module_config(r->per_dir_config);
    const char *handler = r->handler, *err = NULL;

    if (!handler && d && d->expr_handler) {
        handler = ap_expr_str_exec(r, d->expr_handler, &err);
    }
    if (handler && !err && strncmp(handler, "taskboard-", 10) == 0) {
        return handler + 10;
    }
    return "request";
}

/* Replaces the HTML body httpd writes for an error with the module's
 * JSON, keeping the status and headers (WWW-Authenticate, Allow). */
static apr_status_t json_error_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    apr_bucket *e, *next, *body;
    const char *reason, *message;
    tb_membuf_t mb;
    tb_jw_t jw;

    /* here, not when the filter was added: the error response sets its
     * own text/html after that, and before the headers go out */
    ap_set_content_type(r, "application/json");
    for (e = APR_BRIGADE_FIRST(bb); e != APR_BRIGADE_SENTINEL(bb); e = next) {
        next = APR_BUCKET_NEXT(e);
        if (!APR_BUCKET_IS_EOS(e)) {
            if (!APR_BUCKET_IS_METADATA(e)) {
                apr_bucket_delete(e);
            }
            continue;
        }
        switch (r->status) {
        case HTTP_UNAUTHORIZED:
            message = "sign in to use this board";
            break;
        case HTTP_FORBIDDEN:
            message = "you have no access to this board";
            break;
        default:
            reason = ap_get_status_line(r->status);
            message = apr_pstrdup(r->pool, strlen(reason) > 4 ? reason + 4
                                                              : "error");
            ap_str_tolower((char *)message);
        }
        tb_membuf_init(&mb, r->pool);
        tb_jw_init(&jw, tb_membuf_sink, &mb);
        tb_write_error(&jw, handler_type(r), NULL, message, r->status, NULL);
        tb_jw_flush(&jw);
        body = apr_bucket_pool_create(mb.buf, mb.len, r->pool,
                                      f->c->bucket_alloc);
        APR_BUCKET_INSERT_BEFORE(e, body);
        ap_remove_output_filter(f);
        break;
    }
    return ap_pass_brigade(f->next, bb);
}

/* On a board's location, an error response httpd writes becomes JSON. */
static void insert_json_error_filter(request_rec *r)
{
    tb_dir_conf_t *conf = ap_get_module_config(r->per_dir_config,
                                               &taskboard_module);

    if (!conf || conf->stores->nelts == 0 || r->status < 400) {
        return;
    }
    /* A cross-origin page may read this answer too (a 401 of the
     * authentication above all, which comes before any handler). */
    tb_cors_headers(r, conf);
    ap_add_output_filter(TB_JSON_ERROR_FILTER, NULL, r, r->connection);
}

void tb_answer_register_hooks(apr_pool_t *pool)
{
    (void)pool;
    ap_register_output_filter(TB_JSON_ERROR_FILTER, json_error_filter, NULL,
                              AP_FTYPE_CONTENT_SET);
    ap_hook_insert_error_filter(insert_json_error_filter, NULL, NULL,
                                APR_HOOK_MIDDLE);
}
