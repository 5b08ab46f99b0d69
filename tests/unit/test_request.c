/* mod_taskboard: a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

#include "tb_test.h"
#include "tb_request.h"
#include "tb_headers.h"

static apr_array_header_t *served;

static const char *parse(const char *text, tb_load_request_t *req)
{
    return tb_load_request_parse(tb_test_pool, text, strlen(text), served,
                                 req);
}

static const char *store_at(tb_load_request_t *req, int i)
{
    return APR_ARRAY_IDX(req->stores, i, tb_store_request_t).store->id;
}

void test_request(void)
{
    apr_pool_t *p = tb_test_pool;
    tb_load_request_t req;
    tb_store_request_t *sr;
    const char *msg, *origin;
    apr_size_t len;

    served = apr_array_make(p, 3, sizeof(tb_store_t *));
    APR_ARRAY_PUSH(served, tb_store_t *) = tb_store_create(p, "tasks");
    APR_ARRAY_PUSH(served, tb_store_t *) = tb_store_create(p, "resources");
    APR_ARRAY_PUSH(served, tb_store_t *) = tb_store_create(p, "assignments");

    /* the observed real-client request: unserved stores are skipped */
    msg = parse("{\"type\":\"load\",\"requestId\":17957455532200,\"stores\":"
                "[\"calendars\",\"tasks\",\"resources\",\"assignments\","
                "\"dependencies\",\"timeRanges\",\"resourceTimeRanges\"]}",
                &req);
    CHECK(msg == NULL);
    CHECK_STR(req.request_id, "17957455532200");
    CHECK(req.stores->nelts == 3);

    /* configured order, duplicates once, objects with storeId or id */
    msg = parse("{\"requestId\":\"abc\",\"stores\":[\"assignments\","
                "{\"id\":\"tasks\"},\"assignments\"]}", &req);
    CHECK(msg == NULL && req.stores->nelts == 2);
    CHECK_STR(store_at(&req, 0), "tasks");
    CHECK_STR(store_at(&req, 1), "assignments");
    CHECK_STR(req.request_id, "\"abc\"");

    msg = parse("{\"requestId\":1795745553220012,\"stores\":[{\"storeId\":"
                "\"tasks\",\"page\":3,\"pageSize\":50}]}", &req);
    sr = &APR_ARRAY_IDX(req.stores, 0, tb_store_request_t);
    CHECK(msg == NULL && sr->page == 3 && sr->page_size == 50);
    CHECK_STR(req.request_id, "1795745553220012");

    msg = parse("{\"stores\":[{\"storeId\":\"tasks\",\"pageSize\":10}]}",
                &req);
    sr = &APR_ARRAY_IDX(req.stores, 0, tb_store_request_t);
    CHECK(msg == NULL && sr->page == 1 && sr->page_size == 10);

    CHECK(parse("", &req) == NULL && req.stores->nelts == 3);
    CHECK(parse("{}", &req) == NULL && req.stores->nelts == 3);
    CHECK(parse("{\"stores\":[]}", &req) == NULL && req.stores->nelts == 0);

    /* wrong shapes: each with a message a person can act on */
    CHECK(parse("[1]", &req) != NULL);
    CHECK(parse("{\"stores\":\"tasks\"}", &req) != NULL);
    CHECK(parse("{\"stores\":[5]}", &req) != NULL);
    CHECK(parse("{\"stores\":[{\"page\":1}]}", &req) != NULL);
    CHECK(parse("{\"type\":\"sync\"}", &req) != NULL);
    CHECK(parse("{\"requestId\":{}}", &req) != NULL);
    msg = parse("{\"requestId\":7,\"stores\":[{\"storeId\":\"tasks\","
                "\"page\":0,\"pageSize\":5}]}", &req);
    CHECK(msg != NULL && strstr(msg, "page"));
    CHECK_STR(req.request_id, "7");
    CHECK(parse("{\"stores\":[{\"storeId\":\"tasks\",\"page\":1,"
                "\"pageSize\":\"abc\"}]}", &req) != NULL);
    CHECK(parse("{\"stores\":[{\"storeId\":\"tasks\",\"page\":2}]}", &req)
          != NULL);

    CHECK_STR(tb_form_value(p, "a=1&data=%7B%22x%22%3A1%7D&b", "data", &len),
              "{\"x\":1}");
    CHECK(len == 7);
    CHECK_STR(tb_form_value(p, "data=a+b%2", "data", &len), "a b%2");
    CHECK_STR(tb_form_value(p, "xdata=1", "data", &len), NULL);
    CHECK_STR(tb_form_value(p, "data", "data", &len), "");
    CHECK(tb_form_value(p, "data=a%00b", "data", &len) && len == 3);

    /* TaskBoardAllowOrigin: origins as a browser's Origin header writes
     * them, so that comparing strings is enough */
    CHECK(tb_origin_normalize(p, "http://localhost:5173", &origin) == NULL);
    CHECK_STR(origin, "http://localhost:5173");
    CHECK(tb_origin_normalize(p, "HTTPS://Board.Example.COM", &origin)
          == NULL);
    CHECK_STR(origin, "https://board.example.com");
    CHECK(tb_origin_normalize(p, "https://board.example.com:443", &origin)
          == NULL);
    CHECK_STR(origin, "https://board.example.com");
    CHECK(tb_origin_normalize(p, "http://127.0.0.1:80", &origin) == NULL);
    CHECK_STR(origin, "http://127.0.0.1");
    CHECK(tb_origin_normalize(p, "http://127.0.0.1:0443", &origin) == NULL);
    CHECK_STR(origin, "http://127.0.0.1:443");
    CHECK(tb_origin_normalize(p, "http://[::1]:8080", &origin) == NULL);
    CHECK_STR(origin, "http://[::1]:8080");
    CHECK(tb_origin_normalize(p, "chrome-extension://abcdef", &origin)
          == NULL);
    CHECK_STR(origin, "chrome-extension://abcdef");
    /* refused, each with a message naming the value and the trouble */
    msg = tb_origin_normalize(p, "*", &origin);
    CHECK(msg && strstr(msg, "credentials") && origin == NULL);
    msg = tb_origin_normalize(p, "null", &origin);
    CHECK(msg && strstr(msg, "sandboxed"));
    msg = tb_origin_normalize(p, "https://board.example.com/", &origin);
    CHECK(msg && strstr(msg, "path"));
    msg = tb_origin_normalize(p, "https://board.example.com/app", &origin);
    CHECK(msg && strstr(msg, "path"));
    msg = tb_origin_normalize(p, "board.example.com", &origin);
    CHECK(msg && strstr(msg, "scheme://host[:port]"));
    msg = tb_origin_normalize(p, "//board.example.com", &origin);
    CHECK(msg && strstr(msg, "scheme://host[:port]"));
    msg = tb_origin_normalize(p, "http://:8080", &origin);
    CHECK(msg && strstr(msg, "host"));
    msg = tb_origin_normalize(p, "http://a..:8080", &origin);
    CHECK(msg && strstr(msg, "host"));
    msg = tb_origin_normalize(p, "http://localhost:65536", &origin);
    CHECK(msg && strstr(msg, "port"));
    msg = tb_origin_normalize(p, "http://localhost:", &origin);
    CHECK(msg && strstr(msg, "port"));
    msg = tb_origin_normalize(p, "http://localhost:99999999999999999999",
                              &origin);
    CHECK(msg && strstr(msg, "port"));
    msg = tb_origin_normalize(p, "http://user:pw@localhost", &origin);
    CHECK(msg && strstr(msg, "password"));
    msg = tb_origin_normalize(p, "http://[::1", &origin);
    CHECK(msg && strstr(msg, "IPv6"));
    msg = tb_origin_normalize(p, "http://local_host", &origin);
    CHECK(msg != NULL);
}
