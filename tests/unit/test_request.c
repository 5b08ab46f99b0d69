/* test_request.c: unit cases of the load package and form values.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/* tb_request.c: the load package, form values and the origins of
 * TaskBoardAllowOrigin. */

#include <apr_strings.h>

#include "tb_test.h"
#include "tb_request.h"
#include "tb_headers.h"

/* A load package against a location serving tasks, resources and
 * assignments, in that order. */
static const char *parse(const char *text, tb_load_request_t *req)
{
    apr_pool_t *p = tb_test_pool;
    apr_array_header_t *served = apr_array_make(p, 3, sizeof(tb_store_t *));

    APR_ARRAY_PUSH(served, tb_store_t *) = tb_store_create(p, "tasks");
    APR_ARRAY_PUSH(served, tb_store_t *) = tb_store_create(p, "resources");
    APR_ARRAY_PUSH(served, tb_store_t *) = tb_store_create(p, "assignments");
    return tb_load_request_parse(p, text, strlen(text), served, req);
}

static const char *store_at(tb_load_request_t *req, int i)
{
    return APR_ARRAY_IDX(req->stores, i, tb_store_request_t).store->id;
}

/* The observed real-client request: unserved stores are skipped. */
static void real_client_load(void)
{
    tb_load_request_t req;

    CHECK(parse("{\"type\":\"load\",\"requestId\":17957455532200,\"stores\":"
                "[\"calendars\",\"tasks\",\"resources\",\"assignments\","
                "\"dependencies\",\"timeRanges\",\"resourceTimeRanges\"]}",
                &req) == NULL);
    CHECK_STR(req.request_id, "17957455532200");
    CHECK(req.stores->nelts == 3);
}

static void stores_in_configured_order(void)
{
    tb_load_request_t req;
    const char *msg;

    msg = parse("{\"requestId\":\"abc\",\"stores\":[\"assignments\","
                "{\"id\":\"tasks\"},\"assignments\"]}", &req);
    REQUIRE(msg == NULL && req.stores->nelts == 2);
    CHECK_STR(store_at(&req, 0), "tasks");
    CHECK_STR(store_at(&req, 1), "assignments");
    CHECK_STR(req.request_id, "\"abc\"");
}

static void paging(void)
{
    tb_load_request_t req;
    tb_store_request_t *sr;
    const char *msg;

    msg = parse("{\"requestId\":1795745553220012,\"stores\":[{\"storeId\":"
                "\"tasks\",\"page\":3,\"pageSize\":50}]}", &req);
    sr = &APR_ARRAY_IDX(req.stores, 0, tb_store_request_t);
    CHECK(msg == NULL && sr->page == 3 && sr->page_size == 50);
    CHECK_STR(req.request_id, "1795745553220012");
}

/* A lazy Scheduler Pro: resources by startIndex/count, events by the
 * span, assignments following the events, tasks whole. */
static const char *parse_lazy(const char *params, tb_load_request_t *req)
{
    apr_pool_t *p = tb_test_pool;
    apr_array_header_t *served = apr_array_make(p, 4, sizeof(tb_store_t *));
    tb_store_t *resources = tb_store_create(p, "resources");
    tb_store_t *events = tb_store_create(p, "events");
    tb_store_t *assignments = tb_store_create(p, "assignments");
    const char *text = apr_pstrcat(p, "{\"type\":\"load\",\"params\":",
                                   params, "}", NULL);

    resources->lazy = TB_LAZY_ROWS;
    events->lazy = TB_LAZY_SPAN;
    assignments->follows = events;
    APR_ARRAY_PUSH(served, tb_store_t *) = tb_store_create(p, "tasks");
    APR_ARRAY_PUSH(served, tb_store_t *) = resources;
    APR_ARRAY_PUSH(served, tb_store_t *) = events;
    APR_ARRAY_PUSH(served, tb_store_t *) = assignments;
    return tb_load_request_parse(p, text, strlen(text), served, req);
}

static tb_store_request_t *store_request(tb_load_request_t *req, int i)
{
    return &APR_ARRAY_IDX(req->stores, i, tb_store_request_t);
}

static void lazy_params_pick_rows(void)
{
    tb_load_request_t req;

    REQUIRE(parse_lazy("{\"startIndex\":40,\"count\":25,\"startDate\":"
                       "\"2024-03-04T01:00:00+01:00\",\"endDate\":"
                       "\"2024-03-11T00:00:00.000Z\"}", &req) == NULL);
    CHECK(req.is_lazy);
    CHECK(store_request(&req, 0)->pick == TB_PICK_ALL
          && store_request(&req, 0)->limit == 0);
    CHECK(store_request(&req, 1)->offset == 40
          && store_request(&req, 1)->limit == 25);
    CHECK(store_request(&req, 2)->pick == TB_PICK_SPAN);
    CHECK(store_request(&req, 3)->pick == TB_PICK_FOLLOW);
    CHECK_STR(req.lazy.span_from, "2024-03-04 00:00:00");
    CHECK_STR(req.lazy.span_to, "2024-03-11 00:00:00.000");

    REQUIRE(parse_lazy("{\"resourceIds\":[3, \"r7\"]}", &req) == NULL);
    CHECK(store_request(&req, 1)->pick == TB_PICK_LISTED);
    CHECK_STR(req.lazy.listed, "[3,\"r7\"]");
    CHECK(store_request(&req, 2)->pick == TB_PICK_ALL);

    REQUIRE(parse_lazy("{}", &req) == NULL);
    CHECK(!req.is_lazy);
}

static void lazy_params_refused(void)
{
    tb_load_request_t req;

    CHECK(parse_lazy("{\"startIndex\":0}", &req) != NULL);
    CHECK(parse_lazy("{\"startIndex\":-1,\"count\":5}", &req) != NULL);
    CHECK(parse_lazy("{\"startIndex\":0,\"count\":0}", &req) != NULL);
    CHECK(parse_lazy("{\"endDate\":\"2024-01-01\"}", &req) != NULL);
    CHECK(parse_lazy("{\"startDate\":\"soon\",\"endDate\":\"2024-01-01\"}",
                     &req) != NULL);
    CHECK(parse_lazy("{\"resourceIds\":[[1]]}", &req) != NULL);
    CHECK(parse_lazy("[1]", &req) != NULL);
}

static void page_size_alone_is_page_one(void)
{
    tb_load_request_t req;
    tb_store_request_t *sr;
    const char *msg;

    msg = parse("{\"stores\":[{\"storeId\":\"tasks\",\"pageSize\":10}]}",
                &req);
    sr = &APR_ARRAY_IDX(req.stores, 0, tb_store_request_t);
    CHECK(msg == NULL && sr->page == 1 && sr->page_size == 10);
}

static void no_stores_means_all(void)
{
    tb_load_request_t req;

    CHECK(parse("", &req) == NULL && req.stores->nelts == 3);
    CHECK(parse("{}", &req) == NULL && req.stores->nelts == 3);
    CHECK(parse("{\"stores\":[]}", &req) == NULL && req.stores->nelts == 0);
}

static void wrong_shapes_refused(void)
{
    static const char *const rows[] = {
        "[1]",
        "{\"stores\":\"tasks\"}",
        "{\"stores\":[5]}",
        "{\"stores\":[{\"page\":1}]}",
        "{\"type\":\"sync\"}",
        "{\"requestId\":{}}",
        "{\"stores\":[{\"storeId\":\"tasks\",\"page\":1,"
        "\"pageSize\":\"abc\"}]}",
        "{\"stores\":[{\"storeId\":\"tasks\",\"page\":2}]}",
    };
    tb_load_request_t req;
    apr_size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        CHECK_ROW(rows[i], parse(rows[i], &req) != NULL);
    }
}

/* The message names the trouble, and the error answer can still echo
 * the requestId. */
static void page_out_of_range(void)
{
    tb_load_request_t req;
    const char *msg;

    msg = parse("{\"requestId\":7,\"stores\":[{\"storeId\":\"tasks\","
                "\"page\":0,\"pageSize\":5}]}", &req);
    CHECK(msg != NULL && strstr(msg, "page"));
    CHECK_STR(req.request_id, "7");
}

static void form_values(void)
{
    apr_pool_t *p = tb_test_pool;
    apr_size_t len;

    CHECK_STR(tb_form_value(p, "a=1&data=%7B%22x%22%3A1%7D&b", "data", &len),
              "{\"x\":1}");
    CHECK(len == 7);
    CHECK_STR(tb_form_value(p, "data=a+b%2", "data", &len), "a b%2");
    CHECK_STR(tb_form_value(p, "xdata=1", "data", &len), NULL);
    CHECK_STR(tb_form_value(p, "data", "data", &len), "");
    CHECK(tb_form_value(p, "data=a%00b", "data", &len) && len == 3);
}

/* TaskBoardAllowOrigin: origins as a browser's Origin header writes them,
 * so that comparing strings is enough. */
static void origins_normalized(void)
{
    static const struct {
        const char *in, *origin;
    } rows[] = {
        {"http://localhost:5173", "http://localhost:5173"},
        {"HTTPS://Board.Example.COM", "https://board.example.com"},
        {"https://board.example.com:443", "https://board.example.com"},
        {"http://127.0.0.1:80", "http://127.0.0.1"},
        {"http://127.0.0.1:0443", "http://127.0.0.1:443"},
        {"http://[::1]:8080", "http://[::1]:8080"},
        {"chrome-extension://abcdef", "chrome-extension://abcdef"},
    };
    apr_size_t i;
    const char *origin;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        CHECK_ROW(rows[i].in, tb_origin_normalize(tb_test_pool, rows[i].in,
                                                  &origin) == NULL);
        CHECK_STR_ROW(rows[i].in, origin, rows[i].origin);
    }
}

/* Refused, each with a message naming the value and the trouble. */
static void origins_refused(void)
{
    static const struct {
        const char *in, *says;          /* "": any message */
    } rows[] = {
        {"*", "credentials"},
        {"null", "sandboxed"},
        {"https://board.example.com/", "path"},
        {"https://board.example.com/app", "path"},
        {"board.example.com", "scheme://host[:port]"},
        {"//board.example.com", "scheme://host[:port]"},
        {"http://:8080", "host"},
        {"http://a..:8080", "host"},
        {"http://localhost:65536", "port"},
        {"http://localhost:", "port"},
        {"http://localhost:99999999999999999999", "port"},
        {"http://user:pw@localhost", "password"},
        {"http://[::1", "IPv6"},
        {"http://local_host", ""},
    };
    apr_size_t i;
    const char *msg, *origin;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        msg = tb_origin_normalize(tb_test_pool, rows[i].in, &origin);
        CHECK_ROW(rows[i].in, msg && strstr(msg, rows[i].says)
                  && origin == NULL);
    }
}

const tb_case_t tb_request_cases[] = {
    {"the real client's load: unserved stores are skipped",
     real_client_load},
    {"stores in configured order, once, as names or objects",
     stores_in_configured_order},
    {"a store object's page and pageSize are read", paging},
    {"pageSize without page is the first page", page_size_alone_is_page_one},
    {"lazy params: a window, a span, its followers, listed ids",
     lazy_params_pick_rows},
    {"lazy params that cannot be served are refused", lazy_params_refused},
    {"no stores means every served store, an empty list none",
     no_stores_means_all},
    {"packages of the wrong shape are refused", wrong_shapes_refused},
    {"page 0 is refused naming page, the requestId still read",
     page_out_of_range},
    {"form values are decoded, + as a space, a stray % kept", form_values},
    {"origins are normalized as browsers send them", origins_normalized},
    {"origins that are not scheme://host[:port] are refused, saying why",
     origins_refused},
    {NULL, NULL}
};
