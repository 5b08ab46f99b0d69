/* mod_taskboard: a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/*
 * The taskboard-load handler: decodes the package, reads the revision and
 * streams the stores from the database into the response (tb_load.c).
 */

#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_protocol.h>

#include "mod_taskboard_private.h"
#include "tb_load.h"
#include "tb_request.h"

int tb_handle_load(request_rec *r)
{
    tb_dir_conf_t *conf = ap_get_module_config(r->per_dir_config,
                                               &taskboard_module);
    tb_load_request_t req;
    tb_db_error_t err;
    tb_db_t *db;
    tb_out_t out;
    tb_jw_t jw;
    const char *text, *msg, *revision = NULL;
    apr_size_t len;
    int status, i, bad_values = 0;

    if ((status = tb_check_request(r, conf, "load", 1)) != DECLINED) {
        return status;
    }
    status = tb_read_package(r, conf, &text, &len, &msg);
    if (status != OK) {
        if (status == AP_FILTER_ERROR) {
            return status;
        }
        return tb_send_error(r, status, "load", NULL, msg, NULL);
    }
    msg = tb_load_request_parse(r->pool, text, len, conf->stores, &req);
    if (msg) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, TBLOGNO(00103)
                      "load requestId=%s rejected: %s",
                      req.request_id ? req.request_id : "-", msg);
        return tb_send_error(r, HTTP_BAD_REQUEST, "load", req.request_id, msg,
                             NULL);
    }

    if (!(db = tb_acquire_db(r))) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, TBLOGNO(00104)
                      "load requestId=%s: no database connection "
                      "(is the database reachable? see mod_dbd's messages)",
                      req.request_id ? req.request_id : "-");
        return tb_send_error(r, HTTP_SERVICE_UNAVAILABLE, "load",
                             req.request_id, TB_MSG_UNAVAILABLE, NULL);
    }
    if (conf->revision
        && tb_load_revision(db, conf->revision, &revision, &err) != 0) {
        return tb_send_db_error(r, "load", req.request_id, NULL, &err);
    }

    ap_set_content_type(r, "application/json");
    tb_out_init(&out, r);
    tb_jw_init(&jw, tb_out_sink, &out);
    tb_jw_cstr(&jw, "{\"success\":true,\"type\":\"load\"");
    if (req.request_id) {
        tb_jw_cstr(&jw, ",\"requestId\":");
        tb_jw_cstr(&jw, req.request_id);
    }
    if (revision) {
        tb_jw_cstr(&jw, ",\"revision\":");
        tb_jw_cstr(&jw, revision);
    }
    for (i = 0; i < req.stores->nelts; i++) {
        tb_store_request_t *sr = &APR_ARRAY_IDX(req.stores, i,
                                                tb_store_request_t);
        tb_jw_raw(&jw, ",", 1);
        if (tb_load_store(db, &jw, sr, &bad_values, &err) != 0) {
            if (out.committed) {
                tb_log_db_error(r, "load", req.request_id, sr->store->id,
                                &err);
                tb_out_abort(r, &out);
                return OK;
            }
            apr_brigade_cleanup(out.bb);
            return tb_send_db_error(r, "load", req.request_id, sr->store->id,
                                    &err);
        }
    }
    tb_jw_raw(&jw, "}", 1);
    if (bad_values > 0) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, TBLOGNO(00105)
                      "load requestId=%s: %d value%s did not fit the "
                      "declared field type and %s sent as strings; check "
                      "the TaskBoardField types against the columns",
                      req.request_id ? req.request_id : "-", bad_values,
                      bad_values == 1 ? "" : "s",
                      bad_values == 1 ? "was" : "were");
    }
    tb_jw_flush(&jw);
    if (tb_out_finish(&out) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, out.status, r, TBLOGNO(00106)
                      "load requestId=%s: the client went away",
                      req.request_id ? req.request_id : "-");
    }
    return OK;
}
