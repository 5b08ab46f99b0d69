/* mod_taskboard: a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/*
 * The taskboard-status handler and the counters behind it: slots in memory
 * shared by every httpd process, created before the processes fork
 * (post_config) and made anew on each restart.  tb_handler adds each
 * finished load, sync and event stream to the slot of its innermost
 * section (the <Location> of its SetHandler), claimed on first use; the
 * handler shows the slots as an HTML table, or as JSON with ?json.
 */

#include <string.h>
#include <unistd.h>

#include <apr_atomic.h>
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

static apr_status_t forget(void *unused)
{
    (void)unused;
    slots = NULL;
    return APR_SUCCESS;
}

int tb_stats_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                         apr_pool_t *ptemp, server_rec *s)
{
    apr_size_t size = sizeof(tb_stats_slot_t) * TB_STATS_SLOTS;
    apr_shm_t *shm;
    apr_status_t rv;

    (void)plog;
    (void)ptemp;
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

void tb_stats_begin(request_rec *r, int kind)
{
    tb_req_stats_t *rs = apr_pcalloc(r->pool, sizeof(*rs));

    rs->kind = kind;
    ap_set_module_config(r->request_config, &taskboard_module, rs);
}

void tb_stats_end(request_rec *r, apr_interval_time_t duration)
{
    tb_req_stats_t *rs = tb_req_stats(r);
    core_dir_config *core = ap_get_core_module_config(r->per_dir_config);
    const char *label;

    if (!slots || !rs) {
        return;
    }
    if (rs->db) {
        rs->rollbacks = rs->db->rollbacks;
    }
    /* The innermost section's path (the <Location> of the SetHandler), and
     * the virtual host it belongs to, if any. */
    label = core && core->d ? core->d : "(no section)";
    if (r->server->is_virtual && r->server->server_hostname) {
        label = apr_pstrcat(r->pool, r->server->server_hostname, " ", label,
                            NULL);
    }
    tb_stats_add(tb_stats_find(slots, label), rs, r->status, duration);
}

static void html_row(request_rec *r, const tb_stats_slot_t *s)
{
    ap_rprintf(r, "<tr><td>%s</td><td>%u</td><td>%u</td><td>%u</td>"
               "<td>%u</td><td>%u</td><td>%u</td><td>%u</td><td>%u</td>"
               "<td>%u</td><td>%u</td><td>%.1f</td><td>%.1f</td>"
               "<td>%.1f</td></tr>\n",
               ap_escape_html(r->pool, s->path), s->requests, s->loads,
               s->syncs, s->events, s->errors, s->conflicts,
               s->rows_written, s->rollbacks, s->cache_hits, s->db_errors,
               tb_stats_percentile(s, 0.5) / 1000.0,
               tb_stats_percentile(s, 0.9) / 1000.0,
               tb_stats_percentile(s, 0.99) / 1000.0);
}

int tb_handle_status(request_rec *r)
{
    tb_stats_process_t proc;
    tb_out_t out;
    tb_jw_t jw;
    int i, status;

    if ((status = tb_check_method(r, "status", "GET")) != DECLINED) {
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
             "<th>cache hits</th><th>database errors</th><th>p50</th>"
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
