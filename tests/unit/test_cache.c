/* mod_taskboard: a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

#include <stdlib.h>

#include <apr_strings.h>
#include <zlib.h>

#include "tb_test.h"
#include "tb_cache.h"

/* A copy in a buffer of the cache, as tb_cache_put wants it. */
static char *heap(tb_cache_t *cache, const char *s)
{
    char *body = tb_cache_body_new(cache);

    memcpy(body, s, strlen(s));
    return body;
}

static char *filled(tb_cache_t *cache, char c, apr_size_t len)
{
    char *body = tb_cache_body_new(cache);

    memset(body, c, len);
    return body;
}

/* Inflates a whole gzip response (one member) with zlib, as a browser
 * does; returns NULL unless it is valid, complete and nothing follows. */
static char *gunzip(const unsigned char *gz, apr_size_t len,
                    apr_size_t *out_len)
{
    z_stream zs;
    apr_size_t cap = 1 << 20;
    char *out = apr_palloc(tb_test_pool, cap);
    int rv;

    memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
        return NULL;
    }
    zs.next_in = (Bytef *)gz;
    zs.avail_in = (uInt)len;
    zs.next_out = (Bytef *)out;
    zs.avail_out = (uInt)cap;
    rv = inflate(&zs, Z_FINISH);
    *out_len = zs.total_out;
    inflateEnd(&zs);
    return (rv == Z_STREAM_END && zs.avail_in == 0) ? out : NULL;
}

/* What the load handler sends for head + entry when gzip is asked for. */
static unsigned char *gzip_answer(const char *head, tb_cached_t *e,
                                  apr_size_t *len)
{
    apr_size_t head_len = strlen(head);
    unsigned char *buf = apr_palloc(tb_test_pool, TB_GZIP_HEAD_MAX(head_len)
                                                  + e->deflated_len + 8);
    apr_size_t n = tb_gzip_head(buf, head, head_len);

    memcpy(buf + n, e->deflated, e->deflated_len);
    n += e->deflated_len;
    tb_gzip_trailer(buf + n, head, head_len, e);
    *len = n + 8;
    return buf;
}

static void test_gzip(void)
{
    apr_pool_t *p = tb_test_pool;
    tb_cache_t *cache = tb_cache_create(p, 1 << 22, 1 << 21);
    const char *body = ",\"revision\":7,\"tasks\":{\"rows\":[{\"id\":1,"
                       "\"name\":\"Gr\xc3\xb6\xc3\x9f" "e\"}],\"total\":1}}";
    const char *head = "{\"success\":true,\"type\":\"load\",\"requestId\":42";
    char *big_body, *long_head, *plain;
    apr_size_t gz_len, plain_len, i;
    unsigned char *gz;
    tb_cached_t *e;

    tb_cache_put(cache, "k", "7", heap(cache, body), strlen(body));
    e = tb_cache_get(cache, "k", "7");
    CHECK(e != NULL && tb_cached_gzip(e) == 1);
    gz = gzip_answer(head, e, &gz_len);
    plain = gunzip(gz, gz_len, &plain_len);
    CHECK(plain != NULL);
    CHECK(plain && plain_len == strlen(head) + strlen(body)
          && !memcmp(plain, head, strlen(head))
          && !memcmp(plain + strlen(head), body, strlen(body)));
    /* made once: a second call finds it ready */
    CHECK(tb_cached_gzip(e) == 1);
    tb_cache_release(e);

    /* a large, compressible body, and a head longer than one stored
     * block (65,535 bytes) */
    big_body = tb_cache_body_new(cache);
    for (i = 0; i < 300000; i++) {
        big_body[i] = "{\"id\":1234,\"name\":\"x\"},"[i % 23];
    }
    tb_cache_put(cache, "big", "8", big_body, 300000);
    e = tb_cache_get(cache, "big", "8");
    CHECK(e && tb_cached_gzip(e) && e->deflated_len < 300000 / 10);
    long_head = apr_palloc(p, 70001);
    memset(long_head, 'h', 70000);
    long_head[70000] = '\0';
    gz = gzip_answer(long_head, e, &gz_len);
    plain = gunzip(gz, gz_len, &plain_len);
    CHECK(plain && plain_len == 370000 && plain[69999] == 'h'
          && !memcmp(plain + 70000, e->body, 300000));
    gz = gzip_answer("", e, &gz_len);
    plain = gunzip(gz, gz_len, &plain_len);
    CHECK(plain && plain_len == 300000);
    tb_cache_release(e);
}

static void test_entries(void)
{
    apr_pool_t *p = tb_test_pool;
    tb_cache_t *cache = tb_cache_create(p, 2000, 600);
    tb_cache_stats_t st;
    tb_cached_t *held, *e;
    char *body;

    CHECK(tb_cache_get(cache, "a", "1") == NULL);
    tb_cache_put(cache, "a", "1", heap(cache, "[answer a1]"), 11);
    CHECK(tb_cache_get(cache, "a", "2") == NULL);   /* another revision */
    CHECK(tb_cache_get(cache, "b", "1") == NULL);   /* another key */
    held = tb_cache_get(cache, "a", "1");
    CHECK(held && held->body_len == 11 && !memcmp(held->body, "[answer a1]", 11));

    /* a newer revision replaces the entry; the old bytes stay valid for
     * whoever still sends them */
    tb_cache_put(cache, "a", "2", heap(cache, "[answer a2]"), 11);
    CHECK(tb_cache_get(cache, "a", "1") == NULL);
    CHECK(held && !memcmp(held->body, "[answer a1]", 11));
    tb_cache_release(held);
    e = tb_cache_get(cache, "a", "2");
    CHECK(e && !memcmp(e->body, "[answer a2]", 11));
    tb_cache_release(e);

    /* an answer larger than the largest kept is not kept */
    body = filled(cache, 'x', 700);
    tb_cache_put(cache, "huge", "1", body, 700);
    CHECK(tb_cache_get(cache, "huge", "1") == NULL);

    /* the least recently used entries make room */
    body = filled(cache, 'y', 500);
    tb_cache_put(cache, "b", "1", body, 500);
    body = filled(cache, 'z', 500);
    tb_cache_put(cache, "c", "1", body, 500);
    e = tb_cache_get(cache, "a", "2");     /* a is now the most recent */
    CHECK(e != NULL);
    if (e) {
        tb_cache_release(e);
    }
    body = filled(cache, 'w', 500);
    tb_cache_put(cache, "d", "1", body, 500);
    body = filled(cache, 'v', 500);
    tb_cache_put(cache, "e", "1", body, 500);
    tb_cache_stats(cache, &st);
    CHECK(st.bytes <= 2000);
    CHECK(tb_cache_get(cache, "b", "1") == NULL);   /* evicted first */
    e = tb_cache_get(cache, "e", "1");
    CHECK(e != NULL);
    if (e) {
        tb_cache_release(e);
    }
    /* a note that an answer is too large holds for its revision only */
    CHECK(!tb_cache_is_too_large(cache, "xl", "5"));
    tb_cache_note_too_large(cache, "xl", "5");
    CHECK(tb_cache_is_too_large(cache, "xl", "5"));
    CHECK(!tb_cache_is_too_large(cache, "xl", "6"));
    tb_cache_note_too_large(cache, "xl", "6");
    CHECK(tb_cache_is_too_large(cache, "xl", "6"));
    CHECK(!tb_cache_is_too_large(cache, "xl", "5"));
    CHECK(!tb_cache_is_too_large(cache, "other", "6"));
    /* the pool's end frees what is left; LeakSanitizer in the fuzz and
     * ASan builds would report anything else */
}

void test_cache(void)
{
    test_entries();
    test_gzip();
}
