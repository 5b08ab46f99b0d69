/* mod_taskboard: a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

#include <apr_general.h>

#include "tb_test.h"

int tb_test_passed = 0, tb_test_failed = 0;
apr_pool_t *tb_test_pool = NULL;

void tb_test_result(int ok, const char *file, int line, const char *what,
                    const char *detail)
{
    if (ok) {
        tb_test_passed++;
        printf("ok %d - %s\n", tb_test_passed + tb_test_failed, what);
    }
    else {
        tb_test_failed++;
        printf("not ok %d - %s (%s:%d)%s%s\n",
               tb_test_passed + tb_test_failed, what, file, line,
               detail ? ": " : "", detail ? detail : "");
    }
}

int main(int argc, const char *const *argv)
{
    static const struct {
        const char *name;
        tb_test_fn *fn;
    } suites[] = {
        /* first: what the core sets up on first use is set up there by
         * many threads at once (see test_threads.c) */
        {"threads", test_threads},
        {"model", test_model},
        {"convert", test_convert},
        {"json", test_json},
        {"sql", test_sql},
        {"sql_scoped", test_sql_scoped},
        {"request", test_request},
        {"sync", test_sync},
        {"cache", test_cache},
        {"feed", test_feed},
        {"stats", test_stats},
        {"headers", test_headers},
    };
    apr_size_t i;

    apr_app_initialize(&argc, &argv, NULL);
    apr_pool_create(&tb_test_pool, NULL);
    for (i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
        printf("# %s\n", suites[i].name);
        suites[i].fn();
        apr_pool_clear(tb_test_pool);
    }
    apr_pool_destroy(tb_test_pool);
    apr_terminate();
    printf("%d passed, %d failed\n", tb_test_passed, tb_test_failed);
    return tb_test_failed ? 1 : 0;
}
