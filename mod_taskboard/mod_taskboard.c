/* mod_taskboard.c: the module structure and its hooks.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/*
 * Directives live in mod_taskboard_config.c (and the checks of the whole
 * configuration in mod_taskboard_check.c), the routing to the handlers in
 * mod_taskboard_handler.c, and everything that does not need httpd in the
 * tb_*.c files; docs/HACKING.md has the map.
 */

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_request.h>
#include <mpm_common.h>

#include "mod_taskboard_private.h"

/* mod_dbd may be loaded after us: look its functions up once every
 * module is loaded, not only when a directive first needs them. */
static void tb_optional_fn_retrieve(void)
{
    tb_retrieve_dbd_functions();
}

static void tb_child_init(apr_pool_t *pchild, server_rec *s)
{
    tb_load_cache_init(pchild, s);
    tb_events_init(pchild, s);
}

static void tb_register_hooks(apr_pool_t *pool)
{
    (void)pool;
    ap_hook_optional_fn_retrieve(tb_optional_fn_retrieve, NULL, NULL,
                                 APR_HOOK_MIDDLE);
    /* check_config also runs for "apachectl -t", post_config does not. */
    ap_hook_check_config(tb_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(tb_stats_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(tb_child_init, NULL, NULL, APR_HOOK_MIDDLE);
#if AP_MODULE_MAGIC_AT_LEAST(20120211, 110)
    ap_hook_child_stopping(tb_events_child_stopping, NULL, NULL,
                           APR_HOOK_MIDDLE);
#endif
    ap_hook_handler(tb_handler, NULL, NULL, APR_HOOK_MIDDLE);
    tb_answer_register_hooks(pool);
}

/* Not AP_DECLARE_MODULE: the private header already says
 * APLOG_USE_MODULE(taskboard) for every glue file. */
module AP_MODULE_DECLARE_DATA taskboard_module = {
    STANDARD20_MODULE_STUFF,
    tb_create_dir_conf,         /* per-directory config creator */
    tb_merge_dir_conf,          /* per-directory config merger */
    tb_create_server_conf,      /* server config creator */
    NULL,                       /* server config merger */
    tb_cmds,                    /* command table */
    tb_register_hooks,          /* hook registration */
#if defined(AP_MODULE_FLAG_NONE)
    AP_MODULE_FLAG_NONE         /* flags */
#endif
};
