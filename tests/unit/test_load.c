/* test_load.c: unit cases of reading a cached answer back (tb_load.c).
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/* tb_load_index_answer: the rows of each store in the bytes of a cached
 * answer, by their id's JSON text, so that a rebuilt answer can keep the
 * bytes of the rows that did not change.  The reads themselves need a
 * database (tests/integration/test_525_load_rebuild.py). */

#include <apr_strings.h>

#include "tb_test.h"
#include "tb_load.h"

static apr_array_header_t *requested(const char *const *ids)
{
    apr_array_header_t *stores = apr_array_make(tb_test_pool, 2,
                                                sizeof(tb_store_request_t));

    for (; *ids; ids++) {
        tb_store_request_t *sr = apr_array_push(stores);
        memset(sr, 0, sizeof(*sr));
        sr->store = tb_store_create(tb_test_pool, *ids);
    }
    return stores;
}

static const char *span_text(const tb_load_span_t *span)
{
    return span ? apr_pstrmemdup(tb_test_pool, span->at, span->len) : "";
}

static const char *row_of(const tb_load_indexed_t *store, const char *id)
{
    return span_text(apr_hash_get(store->rows, id, APR_HASH_KEY_STRING));
}

static void index_rows(void)
{
    static const char *const ids[] = {"tasks", "columns", NULL};
    /* strings with what could end a row early: braces, brackets, commas,
     * escaped quotes and backslashes; nested JSON values */
    const char *body =
        ",\"revision\":42,\"tasks\":{\"rows\":[{\"id\":1,\"name\":\"a},{\\\""
        "]\",\"meta\":{\"x\":[1,{\"y\":\"\\\\\"}]}},{\"id\":2,\"name\":null}"
        "],\"total\":2},\"columns\":{\"rows\":[{\"id\":\"to\\\"do\",\"w\":0}"
        "],\"total\":1},\"project\":{\"calendar\":\"c\"}}";
    tb_load_indexed_t *idx;

    REQUIRE(tb_load_index_answer(tb_test_pool, body, strlen(body),
                                 requested(ids), &idx) == 0);
    CHECK(apr_hash_count(idx[0].rows) == 2);
    CHECK_STR(row_of(&idx[0], "1"), "{\"id\":1,\"name\":\"a},{\\\"]\","
              "\"meta\":{\"x\":[1,{\"y\":\"\\\\\"}]}}");
    CHECK_STR(row_of(&idx[0], "2"), "{\"id\":2,\"name\":null}");
    CHECK_STR(span_text(&idx[0].whole), ",\"tasks\":{\"rows\":[{\"id\":1,"
              "\"name\":\"a},{\\\"]\",\"meta\":{\"x\":[1,{\"y\":\"\\\\\"}]}},"
              "{\"id\":2,\"name\":null}],\"total\":2}");
    CHECK(apr_hash_count(idx[1].rows) == 1);
    CHECK_STR(row_of(&idx[1], "\"to\\\"do\""),
              "{\"id\":\"to\\\"do\",\"w\":0}");
    CHECK_STR(span_text(&idx[1].whole), ",\"columns\":{\"rows\":[{\"id\":"
              "\"to\\\"do\",\"w\":0}],\"total\":1}");
}

static void index_empty_store(void)
{
    static const char *const ids[] = {"tasks", NULL};
    const char *body = ",\"revision\":1,\"tasks\":{\"rows\":[],\"total\":0}}";
    tb_load_indexed_t *idx;

    REQUIRE(tb_load_index_answer(tb_test_pool, body, strlen(body),
                                 requested(ids), &idx) == 0);
    CHECK(apr_hash_count(idx[0].rows) == 0);
    CHECK_STR(span_text(&idx[0].whole),
              ",\"tasks\":{\"rows\":[],\"total\":0}");
}

/* anything but the answer of the stores asked for is refused, never read
 * past its end */
static void index_refuses(void)
{
    static const char *const ids[] = {"tasks", NULL};
    static const char *const bodies[] = {
        "",
        ",\"revision\":1",
        ",\"revision\":1,\"columns\":{\"rows\":[],\"total\":0}}",
        ",\"revision\":1,\"tasks\":{\"rows\":[{\"id\":1,\"n\":\"x}],"
        "\"total\":1}}",
        ",\"revision\":1,\"tasks\":{\"rows\":[{\"id\":1}",
        ",\"revision\":1,\"tasks\":{\"rows\":[{\"name\":1}],\"total\":1}}",
        ",\"revision\":1,\"tasks\":{\"rows\":[{\"id\":1}],\"total\":1",
        ",\"revision\":1,\"tasks\":[]}",
    };
    tb_load_indexed_t *idx;
    apr_size_t i;

    for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        /* a copy of its own length: ASan sees a read past it */
        char *copy = apr_pmemdup(tb_test_pool, bodies[i], strlen(bodies[i]));
        CHECK_ROW(bodies[i],
                  tb_load_index_answer(tb_test_pool, copy, strlen(bodies[i]),
                                       requested(ids), &idx) == -1);
    }
}

const tb_case_t tb_load_cases[] = {
    {"a cached answer's rows are found by id, strings and nesting skipped",
     index_rows},
    {"a store without rows is found too", index_empty_store},
    {"what is not the answer of the stores asked for is refused",
     index_refuses},
    {NULL, NULL}
};
