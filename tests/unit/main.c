/* main.c: the unit test runner: one pool and one TAP line per case.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/*
 * Runs the cases of every suite (tb_test.h), or with arguments only those
 * whose "suite: name" contains one of them:
 *
 *     tests/unit/run_unit                 every case
 *     tests/unit/run_unit "sync: " cache  the sync and cache suites
 */

#include <signal.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "tb_test.h"

apr_pool_t *tb_test_pool = NULL;

/* The running case's failed checks, printed under its TAP line. */
static apr_array_header_t *failures;
static const char *first_failure;     /* its file:line */
static int checks, checks_failed;

/* What a crash prints: the case it happened in, which would otherwise be
 * known only as the one after the last line printed. */
static char crash_line[512];

static void on_crash(int sig)
{
    /* write(2) and strlen are async-signal-safe, stdio is not */
    if (write(STDOUT_FILENO, crash_line, strlen(crash_line)) < 0) {
        /* nothing left to tell it to */
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

/* s with bytes that would garble a terminal as \xNN: the values under
 * test are often control characters and invalid UTF-8 on purpose. */
static const char *shown(apr_pool_t *p, const char *s)
{
    char *out, *o;

    if (!s) {
        return "(null)";
    }
    out = o = apr_palloc(p, 4 * strlen(s) + 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f) {
            o += sprintf(o, "\\x%02x", c);
        }
        else {
            *o++ = (char)c;
        }
    }
    *o = '\0';
    return out;
}

static void failed(const char *file, int line, const char *expr,
                   const char *row, const char *detail)
{
    apr_pool_t *p = tb_test_pool;

    checks_failed++;
    if (!first_failure) {
        first_failure = apr_psprintf(p, "%s:%d", file, line);
    }
    APR_ARRAY_PUSH(failures, const char *) =
        apr_psprintf(p, "%s:%d: %s%s%s%s%s%s", file, line, expr,
                     row ? " (row: " : "", row ? shown(p, row) : "",
                     row ? ")" : "", detail ? ": " : "",
                     detail ? detail : "");
}

int tb_check(int ok, const char *file, int line, const char *expr,
             const char *row)
{
    checks++;
    if (!ok) {
        failed(file, line, expr, row, NULL);
    }
    return ok;
}

int tb_check_str(const char *got, const char *want, const char *file,
                 int line, const char *expr, const char *row)
{
    int ok = (got == NULL || want == NULL) ? got == want : !strcmp(got, want);

    checks++;
    if (!ok) {
        failed(file, line, expr, row,
               apr_psprintf(tb_test_pool, "got [%s], want [%s]",
                            shown(tb_test_pool, got),
                            shown(tb_test_pool, want)));
    }
    return ok;
}

static int selected(const char *suite, const char *name, int argc,
                    const char *const *argv)
{
    char full[512];
    int i;

    if (argc < 2) {
        return 1;
    }
    snprintf(full, sizeof(full), "%s: %s", suite, name);
    for (i = 1; i < argc; i++) {
        if (strstr(full, argv[i])) {
            return 1;
        }
    }
    return 0;
}

int main(int argc, const char *const *argv)
{
    static const struct {
        const char *name;
        const tb_case_t *cases;
    } suites[] = {
        /* first: what the core sets up on first use is set up there by
         * many threads at once (see test_threads.c) */
        {"threads", tb_threads_cases},
        {"model", tb_model_cases},
        {"convert", tb_convert_cases},
        {"json", tb_json_cases},
        {"sql", tb_sql_cases},
        {"request", tb_request_cases},
        {"sync", tb_sync_cases},
        {"cache", tb_cache_cases},
        {"feed", tb_feed_cases},
        {"stats", tb_stats_cases},
        {"headers", tb_headers_cases},
        {"tree", tb_tree_cases},
        {"nested", tb_nested_cases},
        {"load", tb_load_cases},
    };
    static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL,
                                        SIGABRT};
    apr_pool_t *root;
    apr_size_t s, i;
    int planned = 0, n = 0, passed = 0;

    apr_app_initialize(&argc, &argv, NULL);
    apr_pool_create(&root, NULL);
    /* lines reach a log file (unit-tsan) as they are printed, also when
     * a case crashes */
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (i = 0; i < sizeof(crash_signals) / sizeof(crash_signals[0]); i++) {
        signal(crash_signals[i], on_crash);
    }

    for (s = 0; s < sizeof(suites) / sizeof(suites[0]); s++) {
        for (i = 0; suites[s].cases[i].name; i++) {
            planned += selected(suites[s].name, suites[s].cases[i].name,
                                argc, argv);
        }
    }
    printf("1..%d\n", planned);

    for (s = 0; s < sizeof(suites) / sizeof(suites[0]); s++) {
        for (i = 0; suites[s].cases[i].name; i++) {
            const tb_case_t *c = &suites[s].cases[i];
            int j;

            if (!selected(suites[s].name, c->name, argc, argv)) {
                continue;
            }
            n++;
            snprintf(crash_line, sizeof(crash_line),
                     "not ok %d - %s: %s (crashed)\n", n, suites[s].name,
                     c->name);
            apr_pool_create(&tb_test_pool, root);
            failures = apr_array_make(tb_test_pool, 4, sizeof(const char *));
            first_failure = NULL;
            c->fn();
            if (failures->nelts == 0) {
                passed++;
                printf("ok %d - %s: %s\n", n, suites[s].name, c->name);
            }
            else {
                /* the first failure's place on the line itself, so that
                 * a grep for "not ok" says where to look */
                printf("not ok %d - %s: %s (%s)\n", n, suites[s].name,
                       c->name, first_failure);
                for (j = 0; j < failures->nelts; j++) {
                    printf("#   %s\n", APR_ARRAY_IDX(failures, j,
                                                     const char *));
                }
            }
            apr_pool_destroy(tb_test_pool);
            tb_test_pool = NULL;
        }
    }
    apr_pool_destroy(root);
    apr_terminate();
    printf("%d cases: %d passed, %d failed (%d checks, %d failed)\n", n,
           passed, n - passed, checks, checks_failed);
    return passed == n ? 0 : 1;
}
