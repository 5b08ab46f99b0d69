/* mod_taskboard_authz.c: who may read or change a board.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/*
 * Authentication stays httpd's (Basic, LDAP, Kerberos: whatever sets
 * r->user); this decides, per board, with an administrator's query in the
 * manner of mod_authz_dbd:
 *
 *     TaskBoardAuthzQuery "SELECT access FROM board_access
 *                          WHERE user = %s AND board_id = %s"
 *
 * run on the request's mod_dbd connection with the user (and the board,
 * under TaskBoardScope) bound.  A row saying 'write' lets the user change
 * the board, 'read' only load it and follow its events; no such row, no
 * access.  TaskBoardReadOnly makes a whole location read-only.
 */

#include <string.h>

#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>

#include "mod_taskboard_private.h"

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

int tb_authorize_user(tb_req_t *tr)
{
    request_rec *r = tr->r;

    if (!tr->conf->authz_query || r->user) {
        return TB_GO_ON;
    }
    /* No user although the board needs one: the location has no
     * authentication, or lets this request through without (Require
     * any).  With an AuthType, the browser is asked to sign in. */
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, TBLOGNO(00163)
                  "%s refused (401): " TB_CMD_AUTHZ_QUERY " applies but the "
                  "request has no authenticated user%s", tr->op,
                  ap_auth_type(r) ? ""
                                  : " (no AuthType is set for this location)");
    if (ap_auth_type(r)) {
        ap_note_auth_failure(r);
    }
    return tb_send_error(tr, HTTP_UNAUTHORIZED, "sign in to use this board",
                         NULL);
}

int tb_authorize(tb_req_t *tr, int *writable)
{
    request_rec *r = tr->r;
    const tb_dir_conf_t *conf = tr->conf;
    apr_array_header_t *rows = apr_array_make(r->pool, 2, sizeof(char **));
    tb_db_error_t err;
    const char *args[2];
    tb_access_e level = TB_ACCESS_NONE;
    int i;

    *writable = tb_conf_read_only(conf) == 0;
    if (!conf->authz_query) {
        return TB_GO_ON;
    }
    if (conf->authz_nargs == 2 && !tr->board) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, TBLOGNO(00164)
                      "%s for %s: " TB_CMD_AUTHZ_QUERY " at %s:%d asks for "
                      "the user and the board, but no " TB_CMD_SCOPE
                      " applies here", tr->op, r->uri, conf->authz_file,
                      conf->authz_line);
        return tb_send_error(tr, HTTP_INTERNAL_SERVER_ERROR, "this location "
                             "is not configured consistently (logged)",
                             NULL);
    }
    args[0] = r->user;
    args[1] = tr->board;
    memset(&err, 0, sizeof(err));
    if (tb_db_query_rows(tr->db, conf->authz_query, conf->authz_nargs, args,
                         1, rows, "checking access", &err)) {
        return tb_send_db_error(tr, NULL, &err);
    }
    /* Several rows (a user's groups): the widest access counts. */
    for (i = 0; i < rows->nelts; i++) {
        tb_access_e row = access_of(APR_ARRAY_IDX(rows, i, const char **)[0]);
        level = row > level ? row : level;
    }
    if (level == TB_ACCESS_NONE) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, TBLOGNO(00165)
                      "%s refused (403): user '%s' has no access to board "
                      "'%s'", tr->op, r->user, tr->board ? tr->board : "-");
        return tb_send_error(tr, HTTP_FORBIDDEN, "you have no access to "
                             "this board", NULL);
    }
    if (level == TB_ACCESS_READ) {
        *writable = 0;
    }
    return TB_GO_ON;
}

int tb_refuse_write(tb_req_t *tr)
{
    request_rec *r = tr->r;
    int read_only = tb_conf_read_only(tr->conf);

    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, TBLOGNO(00166)
                  "sync refused (403): %s", read_only
                      ? "the location is read-only"
                      : apr_psprintf(r->pool, "user '%s' may only read "
                                     "board '%s'", r->user ? r->user : "-",
                                     tr->board ? tr->board : "-"));
    return tb_send_error(tr, HTTP_FORBIDDEN, read_only
                         ? "this board is read-only here: changes are not "
                           "accepted"
                         : "you may read this board but not change it",
                         NULL);
}
