/* mod_taskboard_load.c: the taskboard-load handler.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/*
 * It decodes the package, reads the revision,
 * and answers from this process's cache of answers (tb_cache.h) while the
 * revision is unchanged.  Otherwise it reads the revision and every store
 * in one consistent snapshot from the database cursor (tb_load.c): an
 * answer the cache can keep is collected, kept and sent from the cache; a
 * larger one is spooled to a temporary file as the rows come.  A load with
 * "sinceRevision" gets only what changed since, when the journal can tell.
 * Either way the snapshot ends and the connection goes back to mod_dbd
 * before the first byte is written to the client, so a client that reads
 * slowly, or not at all, holds no database connection.
 */

#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_protocol.h>

#include "mod_taskboard_private.h"
#include "tb_cache.h"
#include "tb_journal.h"
#include "tb_load.h"
#include "tb_request.h"
#include "tb_stats.h"

/* How long a load that misses waits for another load's read of the same
 * answer (single flight) before it reads for itself. */
#define TB_FLIGHT_WAIT apr_time_from_sec(5)

/* This process's cache of load answers, or NULL (TaskBoardLoadCacheSize 0,
 * or it could not be created). */
static tb_cache_t *load_cache;

void tb_load_cache_init(apr_pool_t *pchild, server_rec *s)
{
    tb_server_conf_t *sconf = ap_get_module_config(s->module_config,
                                                   &taskboard_module);

    load_cache = NULL;
    if (sconf->cache_size == 0) {
        return;
    }
    load_cache = tb_cache_create(pchild, sconf->cache_size,
                                 sconf->cache_largest);
    if (!load_cache) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, TBLOGNO(00120)
                     "the load cache could not be created; every load "
                     "reads the database");
    }
}

/* What decides the bytes of an answer besides the data: the virtual host
 * (its own DBDParams may name another database), the revision row, and
 * each store with its paging.  Store and revision pointers come from the
 * configuration, which outlives this process's cache. */
static const char *cache_key(request_rec *r, const tb_dir_conf_t *conf,
                             const tb_load_request_t *req)
{
    /* the board's answer is its own: boards share everything else */
    const char *key = apr_psprintf(r->pool, "%pp %pp %pp %s", r->server,
                                   conf->revision, conf->project,
                                   req->board ? req->board : "");
    int i;

    for (i = 0; i < req->stores->nelts; i++) {
        const tb_store_request_t *sr = &APR_ARRAY_IDX(req->stores, i,
                                                      tb_store_request_t);
        key = apr_psprintf(r->pool, "%s %pp:%" APR_INT64_T_FMT ":%"
                           APR_INT64_T_FMT ":%d", key, sr->store, sr->offset,
                           sr->limit, (int)sr->pick);
    }
    /* the rows the params picked: their ids, or their span */
    if (req->lazy.listed) {
        key = apr_pstrcat(r->pool, key, " ids ", req->lazy.listed, NULL);
    }
    if (req->lazy.span_from) {
        key = apr_pstrcat(r->pool, key, " span ", req->lazy.span_from, " ",
                          req->lazy.span_to, NULL);
    }
    return key;
}

/* 1 when Accept-Encoding lists gzip (or x-gzip) without q=0. */
static int accepts_gzip(request_rec *r)
{
    const char *accept = apr_table_get(r->headers_in, "Accept-Encoding");
    char *list, *item, *state, *param;

    if (!accept) {
        return 0;
    }
    list = apr_pstrdup(r->pool, accept);
    for (item = apr_strtok(list, ",", &state); item;
         item = apr_strtok(NULL, ",", &state)) {
        char *name = item, *end;
        while (*name == ' ' || *name == '\t') {
            name++;
        }
        param = strchr(name, ';');
        end = param ? param : name + strlen(name);
        while (end > name && (end[-1] == ' ' || end[-1] == '\t')) {
            end--;
        }
        if (!((end - name == 4 && strncasecmp(name, "gzip", 4) == 0)
              || (end - name == 6 && strncasecmp(name, "x-gzip", 6) == 0))) {
            continue;
        }
        /* "gzip;q=0" and its spellings (q=0.0, q=0.000) refuse it */
        if (param && (param = strstr(param, "q=")) != NULL
            && strtod(param + 2, NULL) <= 0) {
            return 0;
        }
        return 1;
    }
    return 0;
}

static apr_status_t release_cached(void *data)
{
    tb_cache_release(data);
    return APR_SUCCESS;
}

/* Adds len bytes that live at least as long as r->pool. */
static void add_bytes(request_rec *r, apr_bucket_brigade *bb,
                      const void *data, apr_size_t len)
{
    /* A pool bucket copies its bytes away if the pool dies first, so the
     * cached answer is never read after its reference is given back
     * (that cleanup was registered earlier, so it runs later). */
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_pool_create(data, len, r->pool,
                                                       bb->bucket_alloc));
}

/* Sends head + the cached answer, gzip-compressed when the client takes
 * it; holds a reference on the entry until the request pool goes. */
static int send_cached(request_rec *r, const char *head, tb_cached_t *hit)
{
    apr_size_t head_len = strlen(head);
    apr_bucket_brigade *bb = apr_brigade_create(r->pool,
                                                r->connection->bucket_alloc);
    apr_size_t total;
    apr_status_t rv;

    apr_pool_cleanup_register(r->pool, hit, release_cached,
                              apr_pool_cleanup_null);
    if (accepts_gzip(r) && tb_cached_gzip(hit)) {
        unsigned char *gz_head = apr_palloc(r->pool,
                                            TB_GZIP_HEAD_MAX(head_len));
        unsigned char *trailer = apr_palloc(r->pool, 8);
        apr_size_t gz_head_len = tb_gzip_head(gz_head, head, head_len);

        tb_gzip_trailer(trailer, head, head_len, hit);
        add_bytes(r, bb, gz_head, gz_head_len);
        add_bytes(r, bb, hit->deflated, hit->deflated_len);
        add_bytes(r, bb, trailer, 8);
        apr_table_setn(r->headers_out, "Content-Encoding", "gzip");
        total = gz_head_len + hit->deflated_len + 8;
    }
    else {
        add_bytes(r, bb, head, head_len);
        add_bytes(r, bb, hit->body, hit->body_len);
        total = head_len + hit->body_len;
    }
    ap_set_content_length(r, (apr_off_t)total);
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(bb->bucket_alloc));
    tb_release_request_db(r);
    rv = ap_pass_brigade(r->output_filters, bb);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, rv, r, TBLOGNO(00107)
                      "load: the client went away during a cached answer");
    }
    return OK;
}

/* A tb_jw sink for an answer the cache may keep: it collects the whole
 * answer, to be sent from the cache (gzip-compressed for the clients that
 * take it).  An answer that outgrows what the cache keeps is spooled
 * instead: what was collected goes to the spool, and the rest follows as
 * it comes.  It lives in the request pool, as its cleanup does. */
typedef struct collect_t {
    tb_out_t *out;
    const char *head;           /* written first when spooling */
    const char *key, *revision; /* of the answer, for the cache */
    char *copy;                 /* tb_cache_body_new(), handed to the cache */
    apr_size_t len, max;
    int collecting;             /* 0: spooling to out */
} collect_t;

static apr_status_t free_collected(void *data)
{
    collect_t *c = data;

    if (c->copy) {
        tb_cache_body_free(load_cache, c->copy);
        c->copy = NULL;
    }
    return APR_SUCCESS;
}

/* Whether len more bytes fit in what the cache keeps. */
static int collect_room(collect_t *c, apr_size_t len)
{
    if (c->len + len > c->max) {
        return 0;
    }
    if (!c->copy && !(c->copy = tb_cache_body_new(load_cache))) {
        return 0;
    }
    return 1;
}

static void start_spooling(collect_t *c)
{
    apr_size_t at, n;

    c->collecting = 0;
    tb_out_sink(c->out, c->head, strlen(c->head));
    for (at = 0; c->copy && at < c->len; at += n) {
        n = c->len - at < TB_FLUSH_BYTES ? c->len - at : TB_FLUSH_BYTES;
        tb_out_sink(c->out, c->copy + at, n);
    }
    free_collected(c);
}

static int collect_sink(void *ctx, const char *buf, apr_size_t len)
{
    collect_t *c = ctx;

    if (c->collecting) {
        if (collect_room(c, len)) {
            memcpy(c->copy + c->len, buf, len);
            c->len += len;
            return 0;
        }
        if (c->len + len > c->max) {
            tb_cache_note_too_large(load_cache, c->key, c->revision);
        }
        start_spooling(c);
    }
    return tb_out_sink(c->out, buf, len);
}

/* 1 when a store of the load holds nested stores' rows. */
static int has_nested(const tb_load_request_t *req)
{
    int i;

    for (i = 0; i < req->stores->nelts; i++) {
        const tb_store_request_t *sr = &APR_ARRAY_IDX(req->stores, i,
                                                      tb_store_request_t);
        if (sr->store->children) {
            return 1;
        }
    }
    return 0;
}

/* "sinceRevision": only what changed after it, as a sync answer, when the
 * journal reaches back that far.  TB_GO_ON for a full load. */
static int answer_since(tb_req_t *tr, const tb_load_request_t *req)
{
    request_rec *r = tr->r;
    tb_sync_t delta;
    tb_db_error_t err;
    int i, covered;

    memset(&delta, 0, sizeof(delta));
    delta.request_id = req->request_id;
    delta.changes = apr_array_make(r->pool, req->stores->nelts,
                                   sizeof(tb_changes_t *));
    for (i = 0; i <= req->stores->nelts; i++) {
        tb_changes_t *ch;
        if (i == req->stores->nelts && !tr->conf->project) {
            break;
        }
        ch = apr_pcalloc(r->pool, sizeof(*ch));
        /* the project last, as in a full load */
        ch->store = i < req->stores->nelts
                    ? APR_ARRAY_IDX(req->stores, i, tb_store_request_t).store
                    : tr->conf->project;
        ch->rows_out = apr_array_make(r->pool, 4, sizeof(char *));
        ch->removed_out = apr_array_make(r->pool, 4, sizeof(char *));
        APR_ARRAY_PUSH(delta.changes, tb_changes_t *) = ch;
    }
    if (tb_journal_delta(tr->db, tr->conf->journal, tr->conf->revision,
                         tr->board, req->since, delta.changes,
                         &delta.revision, &covered, &err)) {
        return tb_send_db_error(tr, NULL, &err);
    }
    if (tr->board && !delta.revision) {
        return tb_send_no_board(tr);
    }
    if (!covered) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, TBLOGNO(00109)
                      "load requestId=%s: the journal does not reach back "
                      "to revision %" APR_INT64_T_FMT ", full load",
                      TB_RID(tr), req->since);
        return TB_GO_ON;
    }
    tb_release_db(tr);          /* the delta is in memory */
    return tb_send_sync_answer(tr, &delta);
}

int tb_handle_load(tb_req_t *tr)
{
    request_rec *r = tr->r;
    tb_load_request_t req;
    const char *text, *msg;
    apr_size_t len;
    int status, writable;

    if ((status = tb_check_request(tr, TB_METHODS_LOAD)) != TB_GO_ON
        || (status = tb_request_board(tr)) != TB_GO_ON
        || (status = tb_authorize_user(tr)) != TB_GO_ON
        || (status = tb_read_package(tr, &text, &len)) != TB_GO_ON) {
        return status;
    }
    msg = tb_load_request_parse(r->pool, text, len, tr->conf->stores, &req);
    tr->request_id = req.request_id;
    if (msg) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, TBLOGNO(00103)
                      "load requestId=%s rejected: %s", TB_RID(tr), msg);
        return tb_send_error(tr, HTTP_BAD_REQUEST, msg, NULL);
    }
    req.board = tr->board;

    if (!tb_acquire_db(tr)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, TBLOGNO(00104)
                      "load requestId=%s: no database connection "
                      "(is the database reachable? see mod_dbd's messages)",
                      TB_RID(tr));
        return tb_send_error(tr, HTTP_SERVICE_UNAVAILABLE,
                             TB_MSG_UNAVAILABLE, NULL);
    }
    if ((status = tb_authorize(tr, &writable)) != TB_GO_ON) {
        return status;
    }
    /* A window of a lazy-loading client is read whole: the journal's
     * changes are not cut to its window; nor are nested rows answered
     * as changes of their parents. */
    if (req.has_since && !req.is_lazy && !has_nested(&req)
        && tr->conf->journal
        && tr->conf->revision
        && (status = answer_since(tr, &req)) != TB_GO_ON) {
        return status;
    }
    return tb_answer_load(tr, &req);
}

/* The answer's first bytes, before the revision and the stores. */
static const char *answer_head(tb_req_t *tr)
{
    return tr->request_id ? apr_pstrcat(tr->r->pool, "{\"success\":true,"
                                        "\"type\":\"load\",\"requestId\":",
                                        tr->request_id, NULL)
                          : "{\"success\":true,\"type\":\"load\"";
}

/* A load on its way: what the steps of tb_answer_load share. */
typedef struct load_t {
    tb_req_t *tr;
    const tb_load_request_t *req;
    const char *head;           /* answer_head() */
    int use_cache;              /* the cache may answer and keep it */
    const char *key;            /* cache_key(), when use_cache */
    const char *revision;       /* the board's, as the answer carries it */
    tb_out_t out;
    collect_t *collect;
    tb_flight_t *flight;        /* the read others wait for, or NULL */
} load_t;

static apr_status_t end_flight_cleanup(void *data)
{
    tb_cache_flight_end(data);
    return APR_SUCCESS;
}

/* Lets the loads waiting for this one's read go on (once). */
static void end_flight(load_t *ld)
{
    if (ld->flight) {
        apr_pool_cleanup_kill(ld->tr->r->pool, ld->flight,
                              end_flight_cleanup);
        tb_cache_flight_end(ld->flight);
        ld->flight = NULL;
    }
}

/* A miss: when another load of this process reads the same answer right
 * now, waits for it (without a database connection) and answers from the
 * cache; else this load reads, and the next ones of the same key wait for
 * it.  TB_GO_ON with a connection to read with. */
static int answer_after_flight(load_t *ld)
{
    tb_req_t *tr = ld->tr;
    tb_cached_t *hit;
    int flight;

    tb_release_db(tr);
    flight = tb_cache_flight_begin(load_cache, ld->key, ld->revision,
                                   TB_FLIGHT_WAIT, &hit, &ld->flight);
    if (ld->flight) {
        /* ended when the answer is kept, or by the request's end */
        apr_pool_cleanup_register(tr->r->pool, ld->flight,
                                  end_flight_cleanup, apr_pool_cleanup_null);
    }
    if (hit) {
        if (tr->stats) {
            tr->stats->cache_hit = 1;
            tr->stats->load_waited = flight == TB_FLIGHT_WAITED;
        }
        return send_cached(tr->r, ld->head, hit);
    }
    if (!tb_acquire_db(tr)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, tr->r, TBLOGNO(00121)
                      "load requestId=%s: no database connection after "
                      "the cache missed (is the database reachable? see "
                      "mod_dbd's messages)", TB_RID(tr));
        return tb_send_error(tr, HTTP_SERVICE_UNAVAILABLE,
                             TB_MSG_UNAVAILABLE, NULL);
    }
    return TB_GO_ON;
}

/* Answers from the cache when it holds this revision's answer; TB_GO_ON
 * on a miss. */
static int answer_cached(load_t *ld)
{
    tb_req_t *tr = ld->tr;
    tb_db_error_t err;
    tb_cached_t *hit;

    apr_table_mergen(tr->r->headers_out, "Vary", "Accept-Encoding");
    if (tb_load_revision(tr->db, tr->conf->revision, tr->board,
                         &ld->revision, &err) != 0) {
        return tb_send_db_error(tr, NULL, &err);
    }
    ld->key = cache_key(tr->r, tr->conf, ld->req);
    if (!ld->revision) {
        return TB_GO_ON;
    }
    if ((hit = tb_cache_get(load_cache, ld->key, ld->revision)) == NULL) {
        /* an answer the cache cannot keep cannot be shared either: the
         * loads that would wait for it read at once */
        return tb_cache_is_too_large(load_cache, ld->key, ld->revision)
               ? TB_GO_ON : answer_after_flight(ld);
    }
    if (tr->stats) {
        tr->stats->cache_hit = 1;
    }
    tb_release_db(tr);
    return send_cached(tr->r, ld->head, hit);
}

/* The revision the snapshot read can be newer than the one that missed,
 * and its answer kept meanwhile (by a load this one did not wait for, or
 * waited for in vain): then that is the answer.  TB_GO_ON otherwise. */
static int answer_cached_since(load_t *ld)
{
    tb_req_t *tr = ld->tr;
    tb_db_error_t err;
    tb_cached_t *hit;

    if (!ld->revision
        || !(hit = tb_cache_get(load_cache, ld->key, ld->revision))) {
        return TB_GO_ON;
    }
    tb_db_commit(tr->db, &err);     /* nothing read: ends the snapshot */
    end_flight(ld);
    if (tr->stats) {
        tr->stats->cache_hit = 1;
    }
    tb_release_db(tr);
    return send_cached(tr->r, ld->head, hit);
}

/* One snapshot for the revision and every store, so that an answer never
 * shows half of a sync that committed while it was read.  The revision
 * read by answer_cached decided hit or miss in one statement (a hit needs
 * no snapshot); it is read again inside the snapshot so that the answer,
 * and its cache entry, carry the revision of its rows. */
static int begin_snapshot(load_t *ld)
{
    tb_req_t *tr = ld->tr;
    tb_db_error_t err;

    if ((tr->conf->revision || tr->conf->project
         || ld->req->stores->nelts > 1)
        && tb_db_begin_snapshot(tr->db, &err) != 0) {
        return tb_send_db_error(tr, NULL, &err);
    }
    if (tr->conf->revision
        && tb_load_revision(tr->db, tr->conf->revision, tr->board,
                            &ld->revision, &err) != 0) {
        return tb_send_db_error(tr, NULL, &err);
    }
    if (tr->board && !ld->revision) {
        tb_db_commit(tr->db, &err);     /* nothing read: ends the snapshot */
        return tb_send_no_board(tr);
    }
    return TB_GO_ON;
}

/* Where the answer goes as it is read: nothing goes to the client before
 * the last row is read.  What the cache can keep is collected; what it
 * cannot waits in a spool file (tb_out_spool), so the snapshot and the
 * connection are never held by a slow reader. */
static void start_collecting(load_t *ld)
{
    request_rec *r = ld->tr->r;
    collect_t *collect = apr_pcalloc(r->pool, sizeof(*collect));

    tb_out_init(&ld->out, r);
    tb_out_spool(&ld->out);
    collect->out = &ld->out;
    collect->head = ld->head;
    collect->key = ld->key;
    collect->revision = ld->revision;
    collect->collecting = 1;
    apr_pool_cleanup_register(r->pool, collect, free_collected,
                              apr_pool_cleanup_null);
    if (ld->use_cache && ld->revision
        && !tb_cache_is_too_large(load_cache, ld->key, ld->revision)) {
        collect->max = tb_cache_largest(load_cache);
    }
    else {
        start_spooling(collect);
    }
    ld->collect = collect;
}

static void log_bad_values(tb_req_t *tr, int bad_values)
{
    if (bad_values > 0) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, tr->r, TBLOGNO(00105)
                      "load requestId=%s: %d value%s did not fit the "
                      "declared field type and %s sent as strings; check "
                      "the TaskBoardField types against the columns",
                      TB_RID(tr), bad_values, bad_values == 1 ? "" : "s",
                      bad_values == 1 ? "was" : "were");
    }
}

/* Writes the revision and every store; TB_GO_ON once all is read. */
static int read_stores(load_t *ld)
{
    tb_req_t *tr = ld->tr;
    tb_db_error_t err;
    tb_jw_t jw;
    int i, bad_values = 0;

    tb_jw_init(&jw, collect_sink, ld->collect);
    if (ld->revision) {
        tb_jw_cstr(&jw, ",\"revision\":");
        tb_jw_cstr(&jw, ld->revision);
    }
    for (i = 0; i < ld->req->stores->nelts; i++) {
        tb_store_request_t *sr = &APR_ARRAY_IDX(ld->req->stores, i,
                                                tb_store_request_t);
        tb_jw_raw(&jw, ",", 1);
        if (tb_load_store(tr->db, &jw, sr, &ld->req->lazy, tr->board,
                          &bad_values, &err) != 0) {
            tb_out_discard(&ld->out);
            return tb_send_db_error(tr, sr->store->id, &err);
        }
    }
    /* the project goes with every answer: the client's load request
     * names only stores */
    if (tr->conf->project
        && tb_load_project(tr->db, &jw, tr->conf->project, tr->board,
                           &bad_values, &err) != 0) {
        tb_out_discard(&ld->out);
        return tb_send_db_error(tr, TB_PROJECT_ID, &err);
    }
    tb_jw_raw(&jw, "}", 1);
    log_bad_values(tr, bad_values);
    tb_jw_flush(&jw);
    return TB_GO_ON;
}

/* A load whose revision moved since the answer this process holds for
 * the same request: when the journal covers the revisions in between,
 * the answer is rebuilt from the kept bytes and the changed rows (in the
 * snapshot begin_snapshot opened), byte for byte what read_stores would
 * write.  0 when it was not, and read_stores writes the answer. */
static int rebuild_answer(load_t *ld)
{
    tb_req_t *tr = ld->tr;
    tb_cached_t *older;
    const char *why = NULL;
    tb_db_error_t err;
    tb_jw_t jw;
    int bad_values = 0, rv;

    if (!ld->use_cache || !ld->revision || !tr->conf->journal
        || !ld->collect->collecting
        || !tb_load_can_rebuild(ld->req, tr->conf->journal)
        || !(older = tb_cache_get_latest(load_cache, ld->key))) {
        return 0;
    }
    /* its bytes are copied into the answer before the request ends */
    apr_pool_cleanup_register(tr->r->pool, older, release_cached,
                              apr_pool_cleanup_null);
    memset(&err, 0, sizeof(err));
    tb_jw_init(&jw, collect_sink, ld->collect);
    rv = tb_load_rebuild(tr->db, &jw, ld->req, tr->conf->project,
                         tr->conf->journal, tr->board, older->body,
                         older->body_len, tb_cached_revision(older),
                         ld->revision, &bad_values, &why, &err);
    if (rv != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, tr->r, TBLOGNO(00122)
                      "load requestId=%s: not rebuilt from revision %s: "
                      "%s%s%s, full read", TB_RID(tr),
                      tb_cached_revision(older),
                      rv > 0 ? why : "a database error ",
                      rv > 0 ? "" : "while ", rv > 0 ? "" : err.doing);
        return 0;
    }
    log_bad_values(tr, bad_values);
    tb_jw_flush(&jw);
    if (tr->stats) {
        tr->stats->load_rebuilt = 1;
    }
    return 1;
}

/* Sends what was read, from the cache when it was collected (keeping it
 * there when the snapshot ended cleanly), else from the spool. */
static int send_answer(load_t *ld, int committed)
{
    tb_req_t *tr = ld->tr;
    collect_t *collect = ld->collect;
    tb_cached_t *entry;

    if (ld->out.spool_failed) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, ld->out.status, tr->r,
                      TBLOGNO(00200) "load requestId=%s: could not spool an "
                      "answer of %" APR_OFF_T_FMT " bytes to a temporary "
                      "file (is the temporary folder full or not "
                      "writable?)", TB_RID(tr),
                      ld->out.spooled + (apr_off_t)ld->out.pending);
        tb_out_discard(&ld->out);
        return tb_send_error(tr, HTTP_INTERNAL_SERVER_ERROR, "the request "
                             "failed because of a server error (logged)",
                             NULL);
    }
    if (!collect->collecting) {
        end_flight(ld);         /* nothing kept: the waiters read */
        if (tb_out_finish(&ld->out) != APR_SUCCESS) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, ld->out.status, tr->r,
                          TBLOGNO(00106) "load requestId=%s: the client went "
                          "away", TB_RID(tr));
        }
        return OK;
    }
    entry = tb_cache_entry_create(load_cache, ld->key, ld->revision,
                                  collect->copy, collect->len);
    collect->copy = NULL;
    if (!entry) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, tr->r, TBLOGNO(00108)
                      "load requestId=%s: out of memory for an answer of %"
                      APR_SIZE_T_FMT " bytes", TB_RID(tr), collect->len);
        return tb_send_error(tr, HTTP_INTERNAL_SERVER_ERROR, "the server ran "
                             "out of memory", NULL);
    }
    if (committed) {
        tb_cache_publish(entry);
    }
    end_flight(ld);
    return send_cached(tr->r, ld->head, entry);
}

int tb_answer_load(tb_req_t *tr, const tb_load_request_t *req)
{
    tb_db_error_t err;
    load_t ld;
    int status, committed;

    memset(&ld, 0, sizeof(ld));
    ld.tr = tr;
    ld.req = req;
    ld.head = answer_head(tr);
    ap_set_content_type(tr->r, "application/json");

    /* Without a revision nothing tells a cached answer is still right. */
    ld.use_cache = load_cache && tr->conf->revision
                   && tb_conf_load_cache(tr->conf);
    if ((ld.use_cache && (status = answer_cached(&ld)) != TB_GO_ON)
        || (status = begin_snapshot(&ld)) != TB_GO_ON
        || (ld.use_cache && (status = answer_cached_since(&ld)) != TB_GO_ON)) {
        return status;
    }
    start_collecting(&ld);
    if (!rebuild_answer(&ld)) {
        if (tr->stats) {
            tr->stats->load_read = 1;
        }
        if ((status = read_stores(&ld)) != TB_GO_ON) {
            return status;
        }
    }
    /* Ending a read-only snapshot cannot lose anything: every row has
     * been read.  A failure only means the connection broke just now; the
     * answer is still right, but it is not kept. */
    committed = tb_db_commit(tr->db, &err) == 0;
    tb_release_db(tr);
    return send_answer(&ld, committed);
}
