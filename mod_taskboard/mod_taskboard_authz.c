/* mod_taskboard: a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/*
 * Who may read or change a board.  Authentication stays httpd's (Basic,
 * LDAP, Kerberos: whatever sets r->user); this decides, per board, with
 * an administrator's query in the manner of mod_authz_dbd:
 *
 *     TaskBoardAuthzQuery "SELECT access FROM board_access
 *                          WHERE user = %s AND board_id = %s"
 *
 * run on the request's mod_dbd connection with the user (and the board,
 * under TaskBoardScope) bound.  A row saying 'write' lets the user change
 * the board, 'read' only load it and follow its events; no such row, no
 * access.  TaskBoardReadOnly makes a whole location read-only.
 *
 * Errors httpd itself answers on a board's location (401 and 403 from
 * mod_auth*, 413 from LimitRequestBody, ...) get the module's JSON body,
 * so that the client's error handling sees one format.
 */

#include <string.h>

#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <util_filter.h>

#include "mod_taskboard_private.h"
#include "tb_json.h"
#include "tb_sync.h"

#define TB_JSON_ERROR_FILTER "TASKBOARD_JSON_ERROR"

typedef enum {
    TB_ACCESS_NONE = 0,
    TB_ACCESS_READ = 1,
    TB_ACCESS_WRITE = 2
} tb_access_e;

static tb_access_e access_of(const char *value)
{
    if (value && strcasecmp(value, "write") == 0) {
        return TB_ACCESS_WRITE;
    }
    if (value && strcasecmp(value, "read") == 0) {
        return TB_ACCESS_READ;
    }
    return TB_ACCESS_NONE;
}

int tb_authorize_user(request_rec *r, const tb_dir_conf_t *conf,
                      const char *type)
{
    if (!conf->authz_query || r->user) {
        return DECLINED;
    }
    /* No user although the board needs one: the location has no
     * authentication, or lets this request through without (Require
     * any).  With an AuthType, the browser is asked to sign in. */
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, TBLOGNO(00163)
                  "%s refused (401): " TB_CMD_AUTHZ_QUERY " applies but the "
                  "request has no authenticated user%s", type,
                  ap_auth_type(r) ? ""
                                  : " (no AuthType is set for this location)");
    if (ap_auth_type(r)) {
        ap_note_auth_failure(r);
    }
    return tb_send_error(r, HTTP_UNAUTHORIZED, type, NULL,
                         "sign in to use this board", NULL);
}

int tb_authorize(request_rec *r, const tb_dir_conf_t *conf, tb_db_t *db,
                 const char *type, const char *request_id,
                 const char *board, int *writable)
{
    apr_array_header_t *rows = apr_array_make(r->pool, 2, sizeof(char **));
    tb_db_error_t err;
    const char *args[2];
    tb_access_e level = TB_ACCESS_NONE;
    int i;

    *writable = tb_conf_read_only(conf) == 0;
    if (!conf->authz_query) {
        return DECLINED;
    }
    if (conf->authz_nargs == 2 && !board) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, TBLOGNO(00164)
                      "%s for %s: " TB_CMD_AUTHZ_QUERY " at %s:%d asks for "
                      "the user and the board, but no " TB_CMD_SCOPE
                      " applies here", type, r->uri, conf->authz_file,
                      conf->authz_line);
        return tb_send_error(r, HTTP_INTERNAL_SERVER_ERROR, type, request_id,
                             "this location is not configured consistently "
                             "(logged)", NULL);
    }
    args[0] = r->user;
    args[1] = board;
    memset(&err, 0, sizeof(err));
    if (tb_db_query_rows(db, conf->authz_query, conf->authz_nargs, args, 1,
                         rows, "checking access", &err)) {
        return tb_send_db_error(r, type, request_id, NULL, &err);
    }
    /* Several rows (a user's groups): the widest access counts. */
    for (i = 0; i < rows->nelts; i++) {
        tb_access_e row = access_of(APR_ARRAY_IDX(rows, i, const char **)[0]);
        level = row > level ? row : level;
    }
    if (level == TB_ACCESS_NONE) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, TBLOGNO(00165)
                      "%s refused (403): user '%s' has no access to board "
                      "'%s'", type, r->user, board ? board : "-");
        return tb_send_error(r, HTTP_FORBIDDEN, type, request_id,
                             "you have no access to this board", NULL);
    }
    if (level == TB_ACCESS_READ) {
        *writable = 0;
    }
    return DECLINED;
}

int tb_refuse_write(request_rec *r, const tb_dir_conf_t *conf,
                    const char *request_id, const char *board)
{
    int read_only = tb_conf_read_only(conf);

    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, TBLOGNO(00166)
                  "sync refused (403): %s", read_only
                      ? "the location is read-only"
                      : apr_psprintf(r->pool, "user '%s' may only read "
                                     "board '%s'", r->user ? r->user : "-",
                                     board ? board : "-"));
    return tb_send_error(r, HTTP_FORBIDDEN, "sync", request_id, read_only
                         ? "this board is read-only here: changes are not "
                           "accepted"
                         : "you may read this board but not change it",
                         NULL);
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

void tb_authz_register_hooks(apr_pool_t *pool)
{
    (void)pool;
    ap_register_output_filter(TB_JSON_ERROR_FILTER, json_error_filter, NULL,
                              AP_FTYPE_CONTENT_SET);
    ap_hook_insert_error_filter(insert_json_error_filter, NULL, NULL,
                                APR_HOOK_MIDDLE);
}
