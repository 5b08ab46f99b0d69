/* mod_taskboard_status.c: the taskboard-status handler and its counters.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/*
 * The counters are slots in memory shared by every httpd process, created
 * before the processes fork (post_config) and made anew on each restart.
 * tb_handler adds each finished load, sync and event stream to the slot of
 * the section whose SetHandler routed it (its <Location>), claimed on
 * first use; the handler shows the slots as an HTML table, or as JSON
 * with ?json.
 */

#include <string.h>
#include <unistd.h>

#include <apr_atomic.h>
#include <apr_hash.h>
#include <apr_shm.h>
#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>

#include "mod_taskboard_private.h"
#include "tb_stats.h"

/* The shared slots (tb_stats.h), set before the fork; NULL without. */
static tb_stats_slot_t *slots = NULL;

/* Which section set each SetHandler: the handler of a section's core
 * configuration (a pointer that merging copies, never duplicates) -> the
 * section's path.  A request's merged configuration does not say which
 * section its handler came from: the last section merged can be another
 * one (a <Location /api> after <Location /api/load>).  Made in post_config
 * and only read afterwards; NULL before. */
static apr_hash_t *handler_sections = NULL;

static apr_status_t forget(void *unused)
{
    (void)unused;
    slots = NULL;
    handler_sections = NULL;
    return APR_SUCCESS;
}

/* The key of a core configuration's handler, or NULL when it sets none. */
static const void *handler_key(const core_dir_config *dc)
{
    if (!dc) {
        return NULL;
    }
    return dc->expr_handler ? (const void *)dc->expr_handler
                            : (const void *)dc->handler;
}

static void note_handler_sections(apr_pool_t *pool, apr_hash_t *map,
                                  const apr_array_header_t *sections)
{
    int i;

    for (i = 0; sections && i < sections->nelts; i++) {
        ap_conf_vector_t *v = APR_ARRAY_IDX(sections, i, ap_conf_vector_t *);
        const core_dir_config *dc = ap_get_core_module_config(v);
        const void *handler = handler_key(dc), **key;

        if (handler && dc->d) {
            key = apr_palloc(pool, sizeof(*key));
            *key = handler;
            apr_hash_set(map, key, sizeof(*key), dc->d);
        }
    }
}

/* Every <Location> and <Directory> of every server with a SetHandler
 * (a virtual host's list holds the main server's too). */
static void find_handler_sections(apr_pool_t *pconf, server_rec *s)
{
    apr_hash_t *map = apr_hash_make(pconf);

    for (; s; s = s->next) {
        core_server_config *sconf = ap_get_core_module_config(
                                        s->module_config);
        note_handler_sections(pconf, map, sconf->sec_url);
        note_handler_sections(pconf, map, sconf->sec_dir);
    }
    handler_sections = map;
}

/* The row of a request: the section whose SetHandler routed it, else
 * (a SetHandler in an <If> or .htaccess) the innermost section. */
static const char *section_label(request_rec *r)
{
    core_dir_config *core = ap_get_core_module_config(r->per_dir_config);
    const void *handler = handler_key(core);
    const char *label = NULL;

    if (handler && handler_sections) {
        label = apr_hash_get(handler_sections, &handler, sizeof(handler));
    }
    if (!label) {
        label = core && core->d ? core->d : "(no section)";
    }
    if (r->server->is_virtual && r->server->server_hostname) {
        label = apr_pstrcat(r->pool, r->server->server_hostname, " ", label,
                            NULL);
    }
    return label;
}

int tb_stats_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                         apr_pool_t *ptemp, server_rec *s)
{
    apr_size_t size = sizeof(tb_stats_slot_t) * TB_STATS_SLOTS;
    apr_shm_t *shm;
    apr_status_t rv;

    (void)plog;
    (void)ptemp;
    find_handler_sections(pconf, s);
    /* anonymous: inherited by the children, gone with the last of them */
    rv = apr_shm_create(&shm, size, NULL, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, TBLOGNO(00140)
                     "the status counters could not get shared memory; "
                     "taskboard-status shows none");
        slots = NULL;
        return OK;
    }
    slots = apr_shm_baseaddr_get(shm);
    memset(slots, 0, size);
    tb_stats_init(slots);
    apr_pool_cleanup_register(pconf, NULL, forget, apr_pool_cleanup_null);
    return OK;
}

tb_req_stats_t *tb_req_stats(request_rec *r)
{
    return ap_get_module_config(r->request_config, &taskboard_module);
}

tb_req_stats_t *tb_stats_begin(request_rec *r, int kind)
{
    tb_req_stats_t *rs = apr_pcalloc(r->pool, sizeof(*rs));

    rs->kind = kind;
    ap_set_module_config(r->request_config, &taskboard_module, rs);
    return rs;
}

void tb_stats_end(request_rec *r, apr_interval_time_t duration)
{
    tb_req_stats_t *rs = tb_req_stats(r);

    if (!slots || !rs) {
        return;
    }
    if (rs->db) {
        rs->rollbacks = rs->db->rollbacks;
    }
    tb_stats_add(tb_stats_find(slots, section_label(r)), rs, r->status,
                 duration);
}

static void html_row(request_rec *r, const tb_stats_slot_t *s)
{
    ap_rprintf(r, "<tr><td>%s</td><td>%u</td><td>%u</td><td>%u</td>"
               "<td>%u</td><td>%u</td><td>%u</td><td>%u</td><td>%u</td>"
               "<td>%u</td><td>%u</td><td>%u</td><td>%u</td><td>%u</td>"
               "<td>%.1f</td><td>%.1f</td><td>%.1f</td></tr>\n",
               ap_escape_html(r->pool, s->path), s->requests, s->loads,
               s->syncs, s->events, s->errors, s->conflicts,
               s->rows_written, s->rollbacks, s->cache_hits, s->loads_waited,
               s->loads_rebuilt, s->loads_read, s->db_errors,
               tb_stats_percentile(s, 0.5) / 1000.0,
               tb_stats_percentile(s, 0.9) / 1000.0,
               tb_stats_percentile(s, 0.99) / 1000.0);
}

int tb_handle_status(tb_req_t *tr)
{
    request_rec *r = tr->r;
    tb_stats_process_t proc;
    tb_out_t out;
    tb_jw_t jw;
    int i, status;

    if ((status = tb_check_method(tr, "GET")) != TB_GO_ON) {
        return status;
    }
    apr_table_setn(r->headers_out, "Cache-Control", "no-cache");
    memset(&proc, 0, sizeof(proc));
    proc.pid = (long)getpid();
    tb_events_counts(&proc.event_streams, &proc.event_streams_max,
                     &proc.event_streams_client, &proc.event_feeds);
    if (r->args && (strcmp(r->args, "json") == 0
                    || strncmp(r->args, "json&", 5) == 0)) {
        ap_set_content_type(r, "application/json");
        tb_out_init(&out, r);
        tb_jw_init(&jw, tb_out_sink, &out);
        tb_stats_write_json(&jw, slots, &proc);
        tb_jw_flush(&jw);
        tb_out_finish(&out);
        return OK;
    }
    ap_set_content_type(r, "text/html; charset=utf-8");
    ap_rputs("<!DOCTYPE html>\n<html><head><title>mod_taskboard status"
             "</title></head><body>\n<h1>mod_taskboard status</h1>\n"
             "<p>Since the last (re)start of httpd, summed over its "
             "processes; latency of loads and syncs in milliseconds (upper "
             "bounds). <a href=\"?json\">JSON</a></p>\n<table border=\"1\">"
             "\n<tr><th>location</th><th>requests</th><th>loads</th>"
             "<th>syncs</th><th>event streams</th><th>errors</th>"
             "<th>conflicts</th><th>rows written</th><th>rollbacks</th>"
             "<th>cache hits</th><th>waited</th><th>rebuilt</th>"
             "<th>read</th><th>database errors</th><th>p50</th>"
             "<th>p90</th><th>p99</th></tr>\n", r);
    for (i = 0; slots && i < TB_STATS_SLOTS; i++) {
        if (apr_atomic_read32(&slots[i].state) == 2) {
            html_row(r, &slots[i]);
        }
    }
    ap_rprintf(r, "</table>\n<p>This process (pid %ld): %d event streams "
               "open of at most %d (%d per client), %d boards' feeds.</p>\n",
               proc.pid, proc.event_streams, proc.event_streams_max,
               proc.event_streams_client, proc.event_feeds);
    ap_rputs("</body></html>\n", r);
    return OK;
}
