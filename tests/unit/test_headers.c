/* mod_taskboard: a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

#include "tb_test.h"
#include "tb_headers.h"

void test_headers(void)
{
    apr_pool_t *p = tb_test_pool;
    apr_array_header_t *allowed;
    apr_int64_t last = -7;

    /* Last-Event-ID: a revision from 0 to the board's current one resumes
     * after it; anything else starts a new stream and leaves last alone */
    CHECK(tb_last_event_id("5", 10, &last) && last == 5);
    CHECK(tb_last_event_id("0", 10, &last) && last == 0);
    CHECK(tb_last_event_id("10", 10, &last) && last == 10);
    last = -7;
    CHECK(!tb_last_event_id(NULL, 10, &last) && last == -7);
    CHECK(!tb_last_event_id("", 10, &last) && last == -7);
    CHECK(!tb_last_event_id("11", 10, &last) && last == -7);
    CHECK(!tb_last_event_id("-1", 10, &last) && last == -7);
    CHECK(!tb_last_event_id(" 5", 10, &last) && last == -7);
    CHECK(!tb_last_event_id("5 ", 10, &last) && last == -7);
    CHECK(!tb_last_event_id("+5", 10, &last) && last == -7);
    CHECK(!tb_last_event_id("5x", 10, &last) && last == -7);
    CHECK(!tb_last_event_id("0x5", 10, &last) && last == -7);
    CHECK(!tb_last_event_id("99999999999999999999", APR_INT64_MAX, &last)
          && last == -7);
    CHECK(tb_last_event_id("9223372036854775807", APR_INT64_MAX, &last)
          && last == APR_INT64_MAX);
    CHECK(!tb_last_event_id("9223372036854775808", APR_INT64_MAX, &last));
    CHECK(!tb_last_event_id("-9223372036854775808", APR_INT64_MAX, &last));

    /* Origin against TaskBoardAllowOrigin's list: the configured entry
     * comes back, matched without regard to case */
    allowed = apr_array_make(p, 2, sizeof(const char *));
    CHECK(tb_origin_allowed(NULL, "http://localhost:5173") == NULL);
    CHECK(tb_origin_allowed(allowed, "http://localhost:5173") == NULL);
    APR_ARRAY_PUSH(allowed, const char *) = "http://localhost:5173";
    APR_ARRAY_PUSH(allowed, const char *) = "https://board.example.com";
    CHECK(tb_origin_allowed(allowed, NULL) == NULL);
    CHECK(tb_origin_allowed(allowed, "https://board.example.com")
          == APR_ARRAY_IDX(allowed, 1, const char *));
    CHECK_STR(tb_origin_allowed(allowed, "HTTP://LocalHost:5173"),
              "http://localhost:5173");
    CHECK(tb_origin_allowed(allowed, "http://localhost:5174") == NULL);
    CHECK(tb_origin_allowed(allowed, "http://localhost:5173/") == NULL);
    CHECK(tb_origin_allowed(allowed, "http://localhost") == NULL);
    CHECK(tb_origin_allowed(allowed, "https://board.example.com.evil")
          == NULL);
    CHECK(tb_origin_allowed(allowed, "") == NULL);
    CHECK(tb_origin_allowed(allowed, "null") == NULL);
}
