/* mod_taskboard: a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

#include <apr_strings.h>

#include "tb_test.h"
#include "tb_json.h"

static const char *quoted(const char *s, apr_size_t len)
{
    /* tb_json_quote takes C strings; build one from the bytes given. */
    return tb_json_quote(tb_test_pool, apr_pstrmemdup(tb_test_pool, s, len));
}

void test_json(void)
{
    apr_pool_t *p = tb_test_pool;
    const char *msg = NULL;
    json_t *json;
    char deep[200];
    int i;

    CHECK_STR(quoted("plain", 5), "\"plain\"");
    CHECK_STR(quoted("a\"b\\c", 5), "\"a\\\"b\\\\c\"");
    CHECK_STR(quoted("\n\r\t\b\f", 5), "\"\\n\\r\\t\\b\\f\"");
    CHECK_STR(quoted("\x01\x1f", 2), "\"\\u0001\\u001f\"");
    /* multi-byte UTF-8 passes through unchanged */
    CHECK_STR(quoted("Gr\xc3\xb6\xc3\x9f" "e \xe6\x97\xa5 \xf0\x9f\x98\x80", 16),
              "\"Gr\xc3\xb6\xc3\x9f" "e \xe6\x97\xa5 \xf0\x9f\x98\x80\"");
    /* invalid UTF-8 becomes U+FFFD so the output stays valid JSON */
    CHECK_STR(quoted("a\xff" "b", 3), "\"a\xef\xbf\xbd" "b\"");
    CHECK_STR(quoted("\xc3", 1), "\"\xef\xbf\xbd\"");
    /* overlong encoding and a UTF-16 surrogate are not valid either */
    CHECK_STR(quoted("\xc0\xaf", 2), "\"\xef\xbf\xbd\xef\xbf\xbd\"");
    CHECK_STR(quoted("\xed\xa0\x80", 3),
              "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");

    CHECK(tb_utf8_length("\xc3\xa4x", 3) == 2);
    CHECK(tb_utf8_length("\xc3", 1) == -1);

    json = tb_json_parse(p, "{\"a\":1}", 7, &msg);
    CHECK(json && json_is_object(json));
    json = tb_json_parse(p, "{\"a\":1", 6, &msg);
    CHECK(json == NULL && msg && strstr(msg, "not valid JSON"));
    json = tb_json_parse(p, "{\"a\":1,\"a\":2}", 13, &msg);
    CHECK(json == NULL);
    /* a NUL inside a string is refused rather than cut short */
    json = tb_json_parse(p, "\"a\\u0000b\"", 10, &msg);
    CHECK(json == NULL);
    for (i = 0; i < 100; i++) {
        deep[i] = '[';
        deep[100 + i] = ']';
    }
    json = tb_json_parse(p, deep, 200, &msg);
    CHECK(json == NULL && msg && strstr(msg, "nested deeper"));
    CHECK(tb_json_parse(p, deep + 100 - TB_JSON_MAX_DEPTH,
                        2 * TB_JSON_MAX_DEPTH, &msg) != NULL);
    CHECK_STR(tb_json_encode(p, tb_json_pool_own(p, json_integer(1795745553220012LL))),
              "1795745553220012");
}
