/* test_json.c: unit cases of JSON in and out (tb_json.c).
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/* tb_json.c: strings quoted as valid JSON whatever the bytes, and JSON
 * parsed with the module's limits. */

#include <apr_strings.h>

#include "tb_test.h"
#include "tb_json.h"

static const char *quoted(const char *s, apr_size_t len)
{
    /* tb_json_quote takes C strings; build one from the bytes given. */
    return tb_json_quote(tb_test_pool, apr_pstrmemdup(tb_test_pool, s, len));
}

static void quote_escapes(void)
{
    CHECK_STR(quoted("plain", 5), "\"plain\"");
    CHECK_STR(quoted("a\"b\\c", 5), "\"a\\\"b\\\\c\"");
    CHECK_STR(quoted("\n\r\t\b\f", 5), "\"\\n\\r\\t\\b\\f\"");
    CHECK_STR(quoted("\x01\x1f", 2), "\"\\u0001\\u001f\"");
}

static void quote_utf8(void)
{
    CHECK_STR(quoted("Gr\xc3\xb6\xc3\x9f" "e \xe6\x97\xa5 \xf0\x9f\x98\x80", 16),
              "\"Gr\xc3\xb6\xc3\x9f" "e \xe6\x97\xa5 \xf0\x9f\x98\x80\"");
}

/* so that the output stays valid JSON */
static void quote_invalid_utf8(void)
{
    CHECK_STR(quoted("a\xff" "b", 3), "\"a\xef\xbf\xbd" "b\"");
    CHECK_STR(quoted("\xc3", 1), "\"\xef\xbf\xbd\"");
    /* overlong encoding and a UTF-16 surrogate are not valid either */
    CHECK_STR(quoted("\xc0\xaf", 2), "\"\xef\xbf\xbd\xef\xbf\xbd\"");
    CHECK_STR(quoted("\xed\xa0\x80", 3),
              "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
}

static void utf8_length(void)
{
    CHECK(tb_utf8_length("\xc3\xa4x", 3) == 2);
    CHECK(tb_utf8_length("\xc3", 1) == -1);
}

static void parse_valid_or_message(void)
{
    apr_pool_t *p = tb_test_pool;
    const char *msg = NULL;
    json_t *json;

    json = tb_json_parse(p, "{\"a\":1}", 7, &msg);
    CHECK(json && json_is_object(json));
    json = tb_json_parse(p, "{\"a\":1", 6, &msg);
    CHECK(json == NULL && msg && strstr(msg, "not valid JSON"));
}

static void parse_duplicate_keys(void)
{
    const char *msg = NULL;

    CHECK(tb_json_parse(tb_test_pool, "{\"a\":1,\"a\":2}", 13, &msg) == NULL);
}

/* rather than cut short */
static void parse_nul_in_string(void)
{
    const char *msg = NULL;

    CHECK(tb_json_parse(tb_test_pool, "\"a\\u0000b\"", 10, &msg) == NULL);
}

static void parse_depth(void)
{
    apr_pool_t *p = tb_test_pool;
    const char *msg = NULL;
    json_t *json;
    char deep[200];
    int i;

    for (i = 0; i < 100; i++) {
        deep[i] = '[';
        deep[100 + i] = ']';
    }
    json = tb_json_parse(p, deep, 200, &msg);
    CHECK(json == NULL && msg && strstr(msg, "nested deeper"));
    CHECK(tb_json_parse(p, deep + 100 - TB_JSON_MAX_DEPTH,
                        2 * TB_JSON_MAX_DEPTH, &msg) != NULL);
}

static void encode_large_integer(void)
{
    apr_pool_t *p = tb_test_pool;

    CHECK_STR(tb_json_encode(p, tb_json_pool_own(p, json_integer(1795745553220012LL))),
              "1795745553220012");
}

const tb_case_t tb_json_cases[] = {
    {"quoted: quotes, backslashes and control characters escaped",
     quote_escapes},
    {"quoted: valid UTF-8 passes unchanged", quote_utf8},
    {"quoted: invalid UTF-8 becomes U+FFFD", quote_invalid_utf8},
    {"UTF-8 length in code points, -1 when invalid", utf8_length},
    {"parse: valid JSON, or a message saying it is not",
     parse_valid_or_message},
    {"parse: duplicate keys are refused", parse_duplicate_keys},
    {"parse: a NUL inside a string is refused", parse_nul_in_string},
    {"parse: nesting up to the limit, not deeper", parse_depth},
    {"encode: integers beyond 2^53 exactly", encode_large_integer},
    {NULL, NULL}
};
