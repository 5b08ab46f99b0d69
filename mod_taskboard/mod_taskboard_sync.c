/* mod_taskboard: a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/*
 * The taskboard-sync handler: decodes and checks the whole package
 * (tb_sync_parse), then applies it in one transaction (tb_sync_apply).
 */

#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_protocol.h>

#include "mod_taskboard_private.h"
#include "tb_convert.h"
#include "tb_journal.h"
#include "tb_load.h"
#include "tb_stats.h"
#include "tb_sync.h"

static void sync_conf(const tb_dir_conf_t *conf, tb_sync_conf_t *sc)
{
    sc->stores = conf->stores;
    sc->revision = conf->revision;
    sc->conflicts = tb_conf_conflicts(conf);
    sc->journal = conf->revision ? conf->journal : NULL;
    sc->max_records = tb_conf_max_records(conf);
    sc->phantom_field = tb_conf_phantom_field(conf);
    sc->phantom_parent_field = tb_conf_phantom_parent_field(conf);
    sc->ignored = conf->ignored;
    sc->idempotency = conf->idempotency;
}

int tb_send_sync_answer(request_rec *r, const tb_sync_t *sync)
{
    tb_out_t out;
    tb_jw_t jw;

    ap_set_content_type(r, "application/json");
    tb_out_init(&out, r);
    tb_jw_init(&jw, tb_out_sink, &out);
    if (sync->response) {
        tb_jw_cstr(&jw, sync->response);    /* as recorded, or replayed */
    }
    else {
        tb_sync_write_response(&jw, sync);
    }
    tb_jw_flush(&jw);
    if (tb_out_finish(&out) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, out.status, r, TBLOGNO(00110)
                      "sync requestId=%s: the client went away after the "
                      "sync was committed",
                      sync->request_id ? sync->request_id : "-");
    }
    return OK;
}

/* Answers an empty sync. */
static int answer_poll(request_rec *r, const tb_dir_conf_t *conf,
                       tb_db_t *db, tb_sync_t *sync)
{
    tb_load_request_t all;
    tb_db_error_t err;
    apr_int64_t current;
    const char *msg;
    int covered;

    if (!conf->revision) {
        tb_release_db(r, db);
        return tb_send_sync_answer(r, sync);
    }
    /* Up to date (most polls): one statement. */
    if (tb_load_revision(db, conf->revision, sync->board, &sync->revision,
                         &err)) {
        return tb_send_db_error(r, "sync", sync->request_id, NULL, &err);
    }
    if (sync->board && !sync->revision) {
        return tb_send_no_board(r, "sync", sync->request_id, sync->board);
    }
    if (!conf->journal || !sync->has_revision || !sync->revision
        || (tb_parse_int64(sync->revision, &current)
            && current == sync->client_revision)) {
        tb_release_db(r, db);
        return tb_send_sync_answer(r, sync);
    }
    if (tb_journal_delta(db, conf->journal, conf->revision, sync->board,
                         sync->client_revision, sync->changes,
                         &sync->revision, &covered, &err)) {
        return tb_send_db_error(r, "sync", sync->request_id, NULL, &err);
    }
    if (covered) {
        tb_release_db(r, db);   /* the delta is in memory */
        return tb_send_sync_answer(r, sync);
    }
    /* Pruned, or changed by another writer: the client needs it all, as
     * a load answer (a client with trackResponseType takes it so). */
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, TBLOGNO(00117)
                  "sync requestId=%s: the journal does not reach back to "
                  "revision %" APR_INT64_T_FMT ", full load",
                  sync->request_id ? sync->request_id : "-",
                  sync->client_revision);
    msg = tb_load_request_parse(r->pool, "", 0, conf->stores, &all);
    if (msg) {
        return tb_send_error(r, HTTP_INTERNAL_SERVER_ERROR, "sync",
                             sync->request_id, msg, NULL);
    }
    all.request_id = sync->request_id;
    all.board = sync->board;
    return tb_answer_load(r, conf, db, &all);
}

static tb_db_t *acquire_db(request_rec *r, const tb_sync_t *sync)
{
    tb_db_t *db = tb_acquire_db(r);

    if (!db) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, TBLOGNO(00112)
                      "sync requestId=%s: no database connection "
                      "(is the database reachable? see mod_dbd's messages)",
                      sync && sync->request_id ? sync->request_id : "-");
    }
    return db;
}

static int no_db(request_rec *r, const tb_sync_t *sync)
{
    return tb_send_error(r, HTTP_SERVICE_UNAVAILABLE, "sync",
                         sync ? sync->request_id : NULL, TB_MSG_UNAVAILABLE
                         "; your changes were not saved", NULL);
}

int tb_handle_sync(request_rec *r)
{
    tb_dir_conf_t *conf = ap_get_module_config(r->per_dir_config,
                                               &taskboard_module);
    tb_sync_conf_t sc;
    tb_req_stats_t *rs;
    tb_sync_error_t err;
    tb_db_error_t dberr;
    tb_sync_t *sync;
    tb_db_t *db;
    const char *text, *msg, *rid, *board;
    apr_size_t len;
    int status, writable;

    if ((status = tb_check_request(r, conf, "sync", 0)) != DECLINED
        || (status = tb_request_board(r, conf, "sync", &board)) != DECLINED
        || (status = tb_authorize_user(r, conf, "sync")) != DECLINED) {
        return status;
    }
    status = tb_read_package(r, conf, &text, &len, &msg);
    if (status != OK) {
        return status == AP_FILTER_ERROR
               ? status : tb_send_error(r, status, "sync", NULL, msg, NULL);
    }
    sync_conf(conf, &sc);
    db = NULL;
    writable = tb_conf_read_only(conf) == 0;
    /* Who may use the board is known before the package is parsed: a
     * user without access learns nothing of the stores from a 400 or 422,
     * and costs no more than the body read. */
    if (conf->authz_query) {
        if (!(db = acquire_db(r, NULL))) {
            return no_db(r, NULL);
        }
        if ((status = tb_authorize(r, conf, db, "sync", NULL, board,
                                   &writable)) != DECLINED) {
            return status;
        }
    }
    sc.read_only = !writable;
    status = tb_sync_parse(r->pool, &sc, text, len, &sync, &err);
    rid = sync->request_id ? sync->request_id : "-";
    sync->board = board;
    if (status == HTTP_FORBIDDEN) {
        return tb_refuse_write(r, conf, sync->request_id, board);
    }
    if (status != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, TBLOGNO(00111)
                      "sync requestId=%s rejected (%d): %s", rid, status,
                      err.message);
        return tb_send_error(r, status, "sync", sync->request_id,
                             err.message, sync);
    }
    if (!db && !(db = acquire_db(r, sync))) {
        return no_db(r, sync);
    }

    /* An empty sync is the client's poll (forceSync): it changes
     * nothing, and gets the current revision, with what changed since
     * its own when the journal can tell. */
    if (sync->nrecords == 0) {
        return answer_poll(r, conf, db, sync);
    }

    /* The same body again under the same requestId: a transport-level
     * resend of a sync that was applied; answer as the first time. */
    if (tb_sync_replay(db, sync, &err)) {
        return tb_send_db_error(r, "sync", sync->request_id, NULL, &err.db);
    }
    if (sync->response) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, TBLOGNO(00115)
                      "sync requestId=%s: identical resend, the recorded "
                      "answer is replayed", rid);
        tb_release_db(r, db);
        return tb_send_sync_answer(r, sync);
    }

    sync->user = r->user;
    status = tb_sync_apply(db, sync, &err);
    if (status != 0) {
        if (status >= 500) {
            tb_log_db_error(r, "sync", sync->request_id, NULL, &err.db);
        }
        else if (tb_db_is_too_large(err.db.code)) {
            /* the client can only send less: the administrator can act */
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, TBLOGNO(00240)
                          "sync requestId=%s refused (413): a statement "
                          "was larger than the database accepts (its "
                          "max_allowed_packet): [%d] %s; keep "
                          TB_CMD_MAX_BODY " below it", rid, err.db.code,
                          err.db.text ? err.db.text : "");
        }
        else if (err.db.code) {
            /* a constraint the client can act on: the details still help */
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, TBLOGNO(00113)
                          "sync requestId=%s refused (%d): %s [%d] %s", rid,
                          status, err.message, err.db.code,
                          err.db.text ? err.db.text : "");
        }
        else {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, TBLOGNO(00114)
                          "sync requestId=%s refused (%d): %s", rid, status,
                          err.message);
        }
        return tb_send_error(r, status, "sync", sync->request_id,
                             err.message, sync);
    }
    if ((rs = tb_req_stats(r)) != NULL) {
        rs->rows_written = sync->rows_written;
    }
    /* Pruning (once a minute per location and process) comes before the
     * answer, so that the connection goes back before anything is
     * written to the client, who may read slowly. */
    if (tb_sync_prune(db, &sc, &dberr)) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, TBLOGNO(00116)
                      "pruning the retry tables failed: [%d] %s", dberr.code,
                      dberr.text ? dberr.text : "");
    }
    if (sc.journal && tb_journal_prune(db, sc.journal, sync->board, &dberr)) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, TBLOGNO(00118)
                      "pruning the journal failed: [%d] %s", dberr.code,
                      dberr.text ? dberr.text : "");
    }
    tb_release_db(r, db);
    tb_send_sync_answer(r, sync);
    return OK;
}
