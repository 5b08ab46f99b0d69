/* mod_taskboard: a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

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
                       || code == CR_SERVER_LOST_EXTENDED;
    if (!err->unavailable
        && apr_dbd_check_conn(db->driver, db->pool, db->handle)
           != APR_SUCCESS) {
        err->unavailable = 1;
    }
    return code ? code : -1;
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
        return tb_db_fail(db, 0, "reading a value", err);
    }
    return 0;
}
