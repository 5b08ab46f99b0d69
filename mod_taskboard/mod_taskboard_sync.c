/* mod_taskboard_sync.c: the taskboard-sync handler.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/*
 * It decodes and checks the whole package (tb_sync_parse), then applies
 * it in one transaction (tb_sync_apply).  An empty sync is the client's
 * poll, answered with what changed since its revision; an identical
 * resend gets the recorded answer.
 */

#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_protocol.h>

#include "mod_taskboard_private.h"
#include "tb_answer.h"
#include "tb_convert.h"
#include "tb_journal.h"
#include "tb_load.h"
#include "tb_stats.h"
#include "tb_sync.h"

static void sync_conf(const tb_dir_conf_t *conf, tb_sync_conf_t *sc)
{
    sc->stores = conf->stores;
    sc->project = conf->project;
    sc->revision = conf->revision;
    sc->conflicts = tb_conf_conflicts(conf);
    sc->journal = conf->revision ? conf->journal : NULL;
    sc->max_records = tb_conf_max_records(conf);
    sc->phantom_field = tb_conf_phantom_field(conf);
    sc->phantom_parent_field = tb_conf_phantom_parent_field(conf);
    sc->ignored = conf->ignored;
    sc->idempotency = conf->idempotency;
    sc->full_answer = tb_conf_sync_full(conf);
}

int tb_send_sync_answer(tb_req_t *tr, const tb_sync_t *sync)
{
    request_rec *r = tr->r;
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
                      "sync was committed", TB_RID(tr));
    }
    return OK;
}

/* Answers an empty sync. */
static int answer_poll(tb_req_t *tr, tb_sync_t *sync)
{
    const tb_dir_conf_t *conf = tr->conf;
    tb_load_request_t all;
    tb_db_error_t err;
    apr_int64_t current;
    const char *msg;
    int covered;

    if (!conf->revision) {
        tb_release_db(tr);
        return tb_send_sync_answer(tr, sync);
    }
    /* Up to date (most polls): one statement. */
    if (tb_load_revision(tr->db, conf->revision, tr->board, &sync->revision,
                         &err)) {
        return tb_send_db_error(tr, NULL, &err);
    }
    if (tr->board && !sync->revision) {
        return tb_send_no_board(tr);
    }
    if (!conf->journal || !sync->has_revision || !sync->revision
        || (tb_parse_int64(sync->revision, &current)
            && current == sync->client_revision)) {
        tb_release_db(tr);
        return tb_send_sync_answer(tr, sync);
    }
    if (tb_journal_delta(tr->db, conf->journal, conf->revision, tr->board,
                         sync->client_revision, sync->changes,
                         &sync->revision, &covered, &err)) {
        return tb_send_db_error(tr, NULL, &err);
    }
    if (covered) {
        tb_release_db(tr);      /* the delta is in memory */
        return tb_send_sync_answer(tr, sync);
    }
    /* Pruned, or changed by another writer: the client needs it all, as
     * a load answer (a client with trackResponseType takes it so). */
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, tr->r, TBLOGNO(00117)
                  "sync requestId=%s: the journal does not reach back to "
                  "revision %" APR_INT64_T_FMT ", full load", TB_RID(tr),
                  sync->client_revision);
    msg = tb_load_request_parse(tr->r->pool, "", 0, conf->stores, &all);
    if (msg) {
        return tb_send_error(tr, HTTP_INTERNAL_SERVER_ERROR, msg, NULL);
    }
    all.request_id = sync->request_id;
    all.board = tr->board;
    return tb_answer_load(tr, &all);
}

/* Borrows the request's connection; 503 without one. */
static int acquire_db(tb_req_t *tr)
{
    if (tb_acquire_db(tr)) {
        return TB_GO_ON;
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, tr->r, TBLOGNO(00112)
                  "sync requestId=%s: no database connection (is the "
                  "database reachable? see mod_dbd's messages)", TB_RID(tr));
    return tb_send_error(tr, HTTP_SERVICE_UNAVAILABLE, TB_MSG_UNAVAILABLE
                         "; your changes were not saved", NULL);
}

/* Decodes the package, once the user's access is known: a user without
 * access learns nothing of the stores from a 400 or 422, and costs no
 * more than the body read.  TB_GO_ON with *sync set. */
static int decode(tb_req_t *tr, tb_sync_conf_t *sc, const char *text,
                  apr_size_t len, tb_sync_t **sync)
{
    tb_sync_error_t err;
    int status, writable = tb_conf_read_only(tr->conf) == 0;

    if (tr->conf->authz_query
        && ((status = acquire_db(tr)) != TB_GO_ON
            || (status = tb_authorize(tr, &writable)) != TB_GO_ON)) {
        return status;
    }
    sc->read_only = !writable;
    status = tb_sync_parse(tr->r->pool, sc, text, len, sync, &err);
    tr->request_id = (*sync)->request_id;
    (*sync)->board = tr->board;
    if (status == HTTP_FORBIDDEN) {
        return tb_refuse_write(tr);
    }
    if (status != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, tr->r, TBLOGNO(00111)
                      "sync requestId=%s rejected (%d): %s", TB_RID(tr),
                      status, err.message);
        return tb_send_error(tr, status, err.message, *sync);
    }
    return TB_GO_ON;
}

/* The refusal of a sync that tb_sync_apply rolled back, logged as the
 * administrator needs it. */
static int refuse(tb_req_t *tr, const tb_sync_t *sync, int status,
                  const tb_sync_error_t *err)
{
    if (status >= 500 && err->db.busy) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, tr->r, TBLOGNO(00119)
                      "sync requestId=%s refused (503): %s still failed "
                      "after %d runs: [%d] %s", TB_RID(tr), err->db.doing,
                      err->attempts, err->db.code,
                      err->db.text ? err->db.text : "");
        if (tr->stats) {
            tr->stats->db_errors++;
        }
    }
    else if (status >= 500) {
        tb_log_db_error(tr, NULL, &err->db);
    }
    else if (tb_db_is_too_large(err->db.code)) {
        /* the client can only send less: the administrator can act */
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, tr->r, TBLOGNO(00240)
                      "sync requestId=%s refused (413): a statement was "
                      "larger than the database accepts (its "
                      "max_allowed_packet): [%d] %s; keep " TB_CMD_MAX_BODY
                      " below it", TB_RID(tr), err->db.code,
                      err->db.text ? err->db.text : "");
    }
    else if (err->db.code) {
        /* a constraint the client can act on: the details still help */
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, tr->r, TBLOGNO(00113)
                      "sync requestId=%s refused (%d): %s [%d] %s",
                      TB_RID(tr), status, err->message, err->db.code,
                      err->db.text ? err->db.text : "");
    }
    else {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, tr->r, TBLOGNO(00114)
                      "sync requestId=%s refused (%d): %s", TB_RID(tr),
                      status, err->message);
    }
    return tb_send_error(tr, status, err->message, sync);
}

/* Pruning (once a minute per location and process) comes before the
 * answer, so that the connection goes back before anything is written
 * to the client, who may read slowly.  A failure only delays it. */
static void prune(tb_req_t *tr, const tb_sync_conf_t *sc)
{
    tb_db_error_t err;

    if (tb_sync_prune(tr->db, sc, &err)) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, tr->r, TBLOGNO(00116)
                      "pruning the retry tables failed: [%d] %s", err.code,
                      err.text ? err.text : "");
    }
    if (sc->journal && tb_journal_prune(tr->db, sc->journal, tr->board,
                                        &err)) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, tr->r, TBLOGNO(00118)
                      "pruning the journal failed: [%d] %s", err.code,
                      err.text ? err.text : "");
    }
}

int tb_handle_sync(tb_req_t *tr)
{
    tb_sync_conf_t sc;
    tb_sync_error_t err;
    tb_sync_t *sync;
    const char *text;
    apr_size_t len;
    int status;

    sync_conf(tr->conf, &sc);
    if ((status = tb_check_request(tr, TB_METHODS_SYNC)) != TB_GO_ON
        || (status = tb_request_board(tr)) != TB_GO_ON
        || (status = tb_authorize_user(tr)) != TB_GO_ON
        || (status = tb_read_package(tr, &text, &len)) != TB_GO_ON
        || (status = decode(tr, &sc, text, len, &sync)) != TB_GO_ON
        || (!tr->db && (status = acquire_db(tr)) != TB_GO_ON)) {
        return status;
    }

    /* An empty sync is the client's poll (forceSync): it changes
     * nothing, and gets the current revision, with what changed since
     * its own when the journal can tell. */
    if (sync->nrecords == 0) {
        return answer_poll(tr, sync);
    }

    /* The same body again under the same requestId: a transport-level
     * resend of a sync that was applied; answer as the first time. */
    if (tb_sync_replay(tr->db, sync, &err)) {
        return tb_send_db_error(tr, NULL, &err.db);
    }
    if (sync->response) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, tr->r, TBLOGNO(00115)
                      "sync requestId=%s: identical resend, the recorded "
                      "answer is replayed", TB_RID(tr));
        tb_release_db(tr);
        return tb_send_sync_answer(tr, sync);
    }

    sync->user = tr->r->user;
    if ((status = tb_sync_apply(tr->db, sync, &err)) != 0) {
        return refuse(tr, sync, status, &err);
    }
    if (tr->stats) {
        tr->stats->rows_written = sync->rows_written;
    }
    prune(tr, &sc);
    tb_release_db(tr);
    return tb_send_sync_answer(tr, sync);
}
