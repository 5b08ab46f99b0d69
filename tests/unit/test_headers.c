/* test_headers.c: unit cases of Last-Event-ID and Origin (tb_headers.c).
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/* tb_headers.c: the two request headers the core reads, Last-Event-ID
 * and Origin. */

#include "tb_test.h"
#include "tb_headers.h"

/* A revision from 0 to the board's current one resumes after it. */
static void last_event_id_resumes(void)
{
    apr_int64_t last = -7;

    CHECK(tb_last_event_id("5", 10, &last) && last == 5);
    CHECK(tb_last_event_id("0", 10, &last) && last == 0);
    CHECK(tb_last_event_id("10", 10, &last) && last == 10);
}

/* Anything else starts a new stream and leaves last alone. */
static void last_event_id_otherwise_anew(void)
{
    apr_int64_t last = -7;

    CHECK(!tb_last_event_id(NULL, 10, &last) && last == -7);
    CHECK(!tb_last_event_id("", 10, &last) && last == -7);
    CHECK(!tb_last_event_id("11", 10, &last) && last == -7);
    CHECK(!tb_last_event_id("-1", 10, &last) && last == -7);
    CHECK(!tb_last_event_id(" 5", 10, &last) && last == -7);
    CHECK(!tb_last_event_id("5 ", 10, &last) && last == -7);
    CHECK(!tb_last_event_id("+5", 10, &last) && last == -7);
    CHECK(!tb_last_event_id("5x", 10, &last) && last == -7);
    CHECK(!tb_last_event_id("0x5", 10, &last) && last == -7);
}

static void last_event_id_int64_limits(void)
{
    apr_int64_t last = -7;

    CHECK(!tb_last_event_id("99999999999999999999", APR_INT64_MAX, &last)
          && last == -7);
    CHECK(tb_last_event_id("9223372036854775807", APR_INT64_MAX, &last)
          && last == APR_INT64_MAX);
    CHECK(!tb_last_event_id("9223372036854775808", APR_INT64_MAX, &last));
    CHECK(!tb_last_event_id("-9223372036854775808", APR_INT64_MAX, &last));
}

/* TaskBoardAllowOrigin's list as the configuration holds it */
static apr_array_header_t *allowed_origins(void)
{
    apr_array_header_t *allowed = apr_array_make(tb_test_pool, 2,
                                                 sizeof(const char *));

    APR_ARRAY_PUSH(allowed, const char *) = "http://localhost:5173";
    APR_ARRAY_PUSH(allowed, const char *) = "https://board.example.com";
    return allowed;
}

static void origin_without_list(void)
{
    CHECK(tb_origin_allowed(NULL, "http://localhost:5173") == NULL);
    CHECK(tb_origin_allowed(apr_array_make(tb_test_pool, 2,
                                           sizeof(const char *)),
                            "http://localhost:5173") == NULL);
}

/* the configured entry comes back, matched without regard to case */
static void origin_listed(void)
{
    apr_array_header_t *allowed = allowed_origins();

    CHECK(tb_origin_allowed(allowed, "https://board.example.com")
          == APR_ARRAY_IDX(allowed, 1, const char *));
    CHECK_STR(tb_origin_allowed(allowed, "HTTP://LocalHost:5173"),
              "http://localhost:5173");
}

static void origin_unlisted(void)
{
    apr_array_header_t *allowed = allowed_origins();

    CHECK(tb_origin_allowed(allowed, NULL) == NULL);
    CHECK(tb_origin_allowed(allowed, "http://localhost:5174") == NULL);
    CHECK(tb_origin_allowed(allowed, "http://localhost:5173/") == NULL);
    CHECK(tb_origin_allowed(allowed, "http://localhost") == NULL);
    CHECK(tb_origin_allowed(allowed, "https://board.example.com.evil")
          == NULL);
    CHECK(tb_origin_allowed(allowed, "") == NULL);
    CHECK(tb_origin_allowed(allowed, "null") == NULL);
}

const tb_case_t tb_headers_cases[] = {
    {"Last-Event-ID: a revision up to the board's resumes after it",
     last_event_id_resumes},
    {"Last-Event-ID: anything else starts anew, last left alone",
     last_event_id_otherwise_anew},
    {"Last-Event-ID: the int64 limits", last_event_id_int64_limits},
    {"Origin: none allowed without a list", origin_without_list},
    {"Origin: a listed one comes back as configured, whatever its case",
     origin_listed},
    {"Origin: anything not listed is refused", origin_unlisted},
    {NULL, NULL}
};
