/* tb_test.h: the unit cases' checks and their table.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/*
 * The unit tests' harness.  Each test_*.c file ends with a table of named
 * cases; main.c runs every case on a pool of its own, destroyed after it,
 * and prints one TAP line per case:
 *
 *     ok 16 - convert: dates are real days as YYYY-MM-DD
 *     not ok 17 - convert: the client's datetimes become UTC, other text
 *         is refused (tests/unit/test_convert.c:118)
 *     #   tests/unit/test_convert.c:118: tb_datetime_to_utc_sql(p,
 *         rows[i].in) (row: 2024-03-05T10:30:00+01:00): got [2024-03-05
 *         11:30:00], want [2024-03-05 09:30:00]
 *
 * (each on one line), so that a failure says which behaviour broke and
 * where, and no case can pass or fail because of what an earlier one left
 * behind.  A failed CHECK does not end its case (the case's other checks
 * still report); REQUIRE does, for a check whose failure would make the
 * next lines dereference NULL.  A case that crashes is named too ("not ok
 * N - ... (crashed)").  Checks are made from the main thread only.
 *
 * A new case: a static void function in the test_*.c file of the core
 * file it tests, making what it needs itself (from tb_test_pool or a
 * helper of that file), and a line in the file's table:
 *
 *     static void removed_ids(void)
 *     {
 *         ...
 *         CHECK(s->nrecords == 2);
 *     }
 *     ...
 *     {"removed ids are parsed", removed_ids},
 *
 * A new suite: the table's extern below and a line in main.c's suites.
 */

#ifndef TB_TEST_H
#define TB_TEST_H

#include <stdio.h>
#include <string.h>

#include <apr_pools.h>

typedef void tb_case_fn(void);

typedef struct {
    const char *name;           /* what the case shows, as a sentence */
    tb_case_fn *fn;
} tb_case_t;

/* The running case's pool: created before the case, destroyed after it. */
extern apr_pool_t *tb_test_pool;

int tb_check(int ok, const char *file, int line, const char *expr,
             const char *row);
int tb_check_str(const char *got, const char *want, const char *file,
                 int line, const char *expr, const char *row);

#define CHECK(cond) \
    tb_check((cond) ? 1 : 0, __FILE__, __LINE__, #cond, NULL)

/* Compares strings; NULL equals only NULL.  A failure shows both. */
#define CHECK_STR(got, want) \
    tb_check_str((got), (want), __FILE__, __LINE__, #got, NULL)

/* The same in a table-driven loop, where the line is the loop's: row
 * (usually the row's input) says which row failed. */
#define CHECK_ROW(row, cond) \
    tb_check((cond) ? 1 : 0, __FILE__, __LINE__, #cond, (row))
#define CHECK_STR_ROW(row, got, want) \
    tb_check_str((got), (want), __FILE__, __LINE__, #got, (row))

/* A check the rest of the case depends on: when it fails, the case ends. */
#define REQUIRE(cond) do { \
        if (!CHECK(cond)) { \
            return; \
        } \
    } while (0)

/* The suites, in test_*.c; each table ends with {NULL, NULL}. */
extern const tb_case_t tb_threads_cases[];
extern const tb_case_t tb_model_cases[];
extern const tb_case_t tb_convert_cases[];
extern const tb_case_t tb_json_cases[];
extern const tb_case_t tb_sql_cases[];
extern const tb_case_t tb_request_cases[];
extern const tb_case_t tb_sync_cases[];
extern const tb_case_t tb_cache_cases[];
extern const tb_case_t tb_feed_cases[];
extern const tb_case_t tb_stats_cases[];
extern const tb_case_t tb_headers_cases[];
extern const tb_case_t tb_tree_cases[];
extern const tb_case_t tb_nested_cases[];
extern const tb_case_t tb_load_cases[];

#endif
