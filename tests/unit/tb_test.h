/* mod_taskboard: a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/* A very small test harness for the httpd-independent core: each check
 * prints a TAP line, and main() ends with "N passed, N failed". */

#ifndef TB_TEST_H
#define TB_TEST_H

#include <stdio.h>
#include <string.h>

#include <apr_pools.h>

extern int tb_test_passed, tb_test_failed;
extern apr_pool_t *tb_test_pool;    /* cleared after every test function */

void tb_test_result(int ok, const char *file, int line, const char *what,
                    const char *detail);

#define CHECK(cond) \
    tb_test_result((cond) ? 1 : 0, __FILE__, __LINE__, #cond, NULL)

/* Compares strings; NULL equals only NULL. */
#define CHECK_STR(got, want) do { \
        const char *g_ = (got), *w_ = (want); \
        int ok_ = (g_ == NULL || w_ == NULL) ? g_ == w_ : !strcmp(g_, w_); \
        char d_[512]; \
        snprintf(d_, sizeof(d_), "got [%s], want [%s]", \
                 g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
        tb_test_result(ok_, __FILE__, __LINE__, #got, ok_ ? NULL : d_); \
    } while (0)

typedef void tb_test_fn(void);

void test_model(void);
void test_convert(void);
void test_json(void);
void test_sql(void);
void test_sql_scoped(void);
void test_request(void);
void test_sync(void);
void test_cache(void);
void test_feed(void);
void test_stats(void);
void test_headers(void);
void test_threads(void);

#endif
