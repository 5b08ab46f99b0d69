/* mod_taskboard_handler.c: routing a request to its handler, and the
 * checks every board handler makes before it reads its package.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/*
 * tb_handler finds the route of r->handler, makes the request's tb_req_t,
 * answers CORS (a preflight, and a cross-origin sync that no listed
 * origin sends), and counts the request for the status page.  The
 * handlers then check the method and the location (tb_check_request),
 * read the board (tb_request_board) and the package (tb_read_package):
 * each returns TB_GO_ON, or the handler's result with the answer sent.
 * The handlers themselves are in mod_taskboard_load.c, _sync.c, _events.c
 * and _status.c.
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
#include "tb_headers.h"
#include "tb_stats.h"
#include "tb_request.h"

/* What a CORS preflight is told: the request headers a front end may
 * send (the Bryntum client sends Content-Type; X-Requested-With and
 * Authorization are common additions, Last-Event-ID is the event
 * stream's resume header), and how long the browser may keep the answer:
 * ten minutes, so that a changed TaskBoardAllowOrigin soon applies. */
#define TB_CORS_ALLOW_HEADERS "Content-Type, X-Requested-With, " \
                              "Authorization, Last-Event-ID"
#define TB_CORS_MAX_AGE "600"

/************ the checks before the package *******************************/

int tb_check_method(tb_req_t *tr, const char *allow)
{
    request_rec *r = tr->r;
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
        return tb_send_error(tr, HTTP_METHOD_NOT_ALLOWED,
                             apr_psprintf(r->pool, "the %s method is not "
                                          "allowed here (use %s)", r->method,
                                          allow), NULL);
    }
    return TB_GO_ON;
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

int tb_check_scope(tb_req_t *tr)
{
    request_rec *r = tr->r;
    const tb_dir_conf_t *conf = tr->conf;
    const char *what = scope_mismatch(r, conf);

    if (!what) {
        return TB_GO_ON;
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, TBLOGNO(00162)
                  "%s for %s: %s is declared %s the " TB_CMD_SCOPE " that "
                  "applies here%s%s; declare it in the same section as "
                  TB_CMD_SCOPE ", after it", tr->op, r->uri, what,
                  conf->scope ? "without" : "under another than",
                  conf->scope ? " at " : "",
                  conf->scope ? apr_psprintf(r->pool, "%s:%d",
                                             conf->scope->defn_file,
                                             conf->scope->defn_line) : "");
    return tb_send_error(tr, HTTP_INTERNAL_SERVER_ERROR, "this location is "
                         "not configured consistently (logged)", NULL);
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
 * TB_METHODS_*. */
static int check_cors(tb_req_t *tr, const char *methods)
{
    request_rec *r = tr->r;
    const char *origin = apr_table_get(r->headers_in, "Origin");
    const char *allowed = tb_cors_headers(r, tr->conf);

    /* A page of any other site can make the browser POST a text/plain or
     * form body without asking first (no preflight), with the user's
     * cookies or Basic credentials: CORS only hides the answer.  A change
     * of the board must come from its own origin or a listed one.  Clients
     * that are not browsers send no Origin. */
    if (r->method_number == M_POST && strcmp(tr->op, "sync") == 0 && origin
        && !allowed && !same_origin(r, origin)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, TBLOGNO(00151)
                      "sync from a page of origin %s refused: neither this "
                      "server's origin nor listed in " TB_CMD_ALLOW_ORIGIN,
                      origin);
        return tb_send_error(tr, HTTP_FORBIDDEN,
                             "changes from pages of another origin are "
                             "refused (the server does not list it as an "
                             "allowed origin)", NULL);
    }
    if (r->method_number != M_OPTIONS || !origin
        || !apr_table_get(r->headers_in, "Access-Control-Request-Method")) {
        return TB_GO_ON;
    }
    /* A preflight: the browser asks whether the page may send the real
     * request.  It comes without credentials (see docs/configuration.md, Cross-origin
     * front ends). */
    if (!allowed) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, TBLOGNO(00150)
                      "CORS preflight for %s from origin %s refused: not "
                      "listed in " TB_CMD_ALLOW_ORIGIN, r->uri, origin);
        return tb_send_error(tr, HTTP_FORBIDDEN,
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

int tb_check_request(tb_req_t *tr, const char *methods)
{
    int status = tb_check_method(tr, methods);

    if (status != TB_GO_ON || (status = tb_check_scope(tr)) != TB_GO_ON) {
        return status;
    }
    if (tr->conf->stores->nelts == 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, tr->r, TBLOGNO(00102)
                      "SetHandler %s for %s, but no <TaskBoardStore> "
                      "applies to this location", tr->r->handler,
                      tr->r->uri);
        return tb_send_error(tr, HTTP_INTERNAL_SERVER_ERROR,
                             "this location serves no stores", NULL);
    }
    return TB_GO_ON;
}

/************ the board ***************************************************/

int tb_request_board(tb_req_t *tr)
{
    request_rec *r = tr->r;
    const tb_scope_t *scope = tr->conf->scope;
    const char *raw = NULL, *msg = NULL;
    apr_size_t len = 0;

    tr->board = NULL;
    if (!scope) {
        return TB_GO_ON;
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
    tr->board = tb_scope_value(r->pool, scope, raw, &msg);
    if (tr->board) {
        return TB_GO_ON;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, TBLOGNO(00160)
                  "%s refused: %s (%s %s, " TB_CMD_SCOPE " at %s:%d)", tr->op,
                  msg, scope->source == TB_SCOPE_ENV ? "variable"
                                                     : "query parameter",
                  scope->name, scope->defn_file, scope->defn_line);
    return tb_send_error(tr, HTTP_BAD_REQUEST, scope->source == TB_SCOPE_PARAM
                             ? apr_psprintf(r->pool, "%s (query parameter "
                                            "'%s')", msg, scope->name)
                             : msg, NULL);
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
 * field. */
int tb_read_package(tb_req_t *tr, const char **text, apr_size_t *len)
{
    request_rec *r = tr->r;
    const char *param = tb_conf_param_name(tr->conf), *type, *msg = NULL;
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
            return tb_send_error(tr, HTTP_UNSUPPORTED_MEDIA_TYPE,
                                 apr_psprintf(r->pool, "content type '%s' "
                                              "is not supported: send "
                                              "application/json, text/plain "
                                              "or a form field '%s'", type,
                                              param), NULL);
        }
        status = read_body(r, tb_conf_max_body(tr->conf), &body, &body_len,
                           &msg);
        if (status == AP_FILTER_ERROR) {
            return status;      /* an input filter answered already */
        }
        if (status != OK) {
            return tb_send_error(tr, status, msg, NULL);
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
    return TB_GO_ON;
}

/************ dispatch ****************************************************/

/* The handlers; only a browser page's handlers answer CORS, the status
 * page is for administrators. */
typedef struct tb_route_t {
    const char *handler;        /* SetHandler name */
    int (*handle)(tb_req_t *tr);
    int kind;                   /* TB_STATS_*, or -1: not counted */
    const char *op;             /* "type" of its JSON answers */
    const char *methods;        /* TB_METHODS_*, or NULL: no CORS */
} tb_route_t;

static const tb_route_t tb_routes[] = {
    {TB_HANDLER_LOAD, tb_handle_load, TB_STATS_LOAD, "load",
     TB_METHODS_LOAD},
    {TB_HANDLER_SYNC, tb_handle_sync, TB_STATS_SYNC, "sync",
     TB_METHODS_SYNC},
    {TB_HANDLER_EVENTS, tb_handle_events, TB_STATS_EVENTS, "events",
     TB_METHODS_EVENTS},
    {TB_HANDLER_STATUS, tb_handle_status, -1, "status", NULL},
    {NULL}
};

int tb_handler(request_rec *r)
{
    const tb_route_t *route;
    tb_req_t *tr;
    apr_time_t start;
    int rv;

    for (route = tb_routes; route->handler; route++) {
        if (strcmp(r->handler, route->handler) == 0) {
            break;
        }
    }
    if (!route->handler) {
        return DECLINED;
    }
    tr = apr_pcalloc(r->pool, sizeof(*tr));
    tr->r = r;
    tr->conf = ap_get_module_config(r->per_dir_config, &taskboard_module);
    tr->op = route->op;
    if (route->kind < 0) {
        return route->handle(tr);
    }
    if ((rv = check_cors(tr, route->methods)) != TB_GO_ON) {
        return rv;
    }
    start = apr_time_now();
    tr->stats = tb_stats_begin(r, route->kind);
    rv = route->handle(tr);
    tb_stats_end(r, apr_time_now() - start);
    return rv;
}
