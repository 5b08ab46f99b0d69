/* test_cache.c: unit cases of the load cache and its gzip framing.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/* tb_cache.c: load answers kept by key and revision, least recently used
 * out first, and their gzip form.  The case's pool frees what a cache
 * still holds; LeakSanitizer in the fuzz and ASan builds would report
 * anything else. */

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

/* A cache of 2000 bytes that keeps answers up to 600. */
static tb_cache_t *small_cache(void)
{
    return tb_cache_create(tb_test_pool, 2000, 600);
}

static void found_by_key_and_revision(void)
{
    tb_cache_t *cache = small_cache();
    tb_cached_t *e;

    CHECK(tb_cache_get(cache, "a", "1") == NULL);
    tb_cache_put(cache, "a", "1", heap(cache, "[answer a1]"), 11);
    CHECK(tb_cache_get(cache, "a", "2") == NULL);   /* another revision */
    CHECK(tb_cache_get(cache, "b", "1") == NULL);   /* another key */
    e = tb_cache_get(cache, "a", "1");
    CHECK(e && e->body_len == 11 && !memcmp(e->body, "[answer a1]", 11));
    if (e) {
        tb_cache_release(e);
    }
}

/* the old bytes stay valid for whoever still sends them */
static void newer_revision_replaces(void)
{
    tb_cache_t *cache = small_cache();
    tb_cached_t *held, *e;

    tb_cache_put(cache, "a", "1", heap(cache, "[answer a1]"), 11);
    held = tb_cache_get(cache, "a", "1");
    tb_cache_put(cache, "a", "2", heap(cache, "[answer a2]"), 11);
    CHECK(tb_cache_get(cache, "a", "1") == NULL);
    CHECK(held && !memcmp(held->body, "[answer a1]", 11));
    if (held) {
        tb_cache_release(held);
    }
    e = tb_cache_get(cache, "a", "2");
    CHECK(e && !memcmp(e->body, "[answer a2]", 11));
    if (e) {
        tb_cache_release(e);
    }
}

static void too_large_not_kept(void)
{
    tb_cache_t *cache = small_cache();

    tb_cache_put(cache, "huge", "1", filled(cache, 'x', 700), 700);
    CHECK(tb_cache_get(cache, "huge", "1") == NULL);
}

static void least_recently_used_make_room(void)
{
    tb_cache_t *cache = small_cache();
    tb_cache_stats_t st;
    tb_cached_t *e;

    tb_cache_put(cache, "a", "2", heap(cache, "[answer a2]"), 11);
    tb_cache_put(cache, "b", "1", filled(cache, 'y', 500), 500);
    tb_cache_put(cache, "c", "1", filled(cache, 'z', 500), 500);
    e = tb_cache_get(cache, "a", "2");     /* a is now the most recent */
    CHECK(e != NULL);
    if (e) {
        tb_cache_release(e);
    }
    tb_cache_put(cache, "d", "1", filled(cache, 'w', 500), 500);
    tb_cache_put(cache, "e", "1", filled(cache, 'v', 500), 500);
    tb_cache_stats(cache, &st);
    CHECK(st.bytes <= 2000);
    CHECK(tb_cache_get(cache, "b", "1") == NULL);   /* evicted first */
    e = tb_cache_get(cache, "e", "1");
    CHECK(e != NULL);
    if (e) {
        tb_cache_release(e);
    }
}

static void too_large_note_per_revision(void)
{
    tb_cache_t *cache = small_cache();

    CHECK(!tb_cache_is_too_large(cache, "xl", "5"));
    tb_cache_note_too_large(cache, "xl", "5");
    CHECK(tb_cache_is_too_large(cache, "xl", "5"));
    CHECK(!tb_cache_is_too_large(cache, "xl", "6"));
    tb_cache_note_too_large(cache, "xl", "6");
    CHECK(tb_cache_is_too_large(cache, "xl", "6"));
    CHECK(!tb_cache_is_too_large(cache, "xl", "5"));
    CHECK(!tb_cache_is_too_large(cache, "other", "6"));
}

static const char gzip_body[] =
    ",\"revision\":7,\"tasks\":{\"rows\":[{\"id\":1,"
    "\"name\":\"Gr\xc3\xb6\xc3\x9f" "e\"}],\"total\":1}}";
static const char gzip_head[] =
    "{\"success\":true,\"type\":\"load\",\"requestId\":42";

static void gzip_inflates_to_head_and_body(void)
{
    tb_cache_t *cache = tb_cache_create(tb_test_pool, 1 << 22, 1 << 21);
    apr_size_t gz_len, plain_len;
    unsigned char *gz;
    char *plain;
    tb_cached_t *e;

    tb_cache_put(cache, "k", "7", heap(cache, gzip_body), strlen(gzip_body));
    e = tb_cache_get(cache, "k", "7");
    REQUIRE(e != NULL && tb_cached_gzip(e) == 1);
    gz = gzip_answer(gzip_head, e, &gz_len);
    plain = gunzip(gz, gz_len, &plain_len);
    CHECK(plain != NULL);
    CHECK(plain && plain_len == strlen(gzip_head) + strlen(gzip_body)
          && !memcmp(plain, gzip_head, strlen(gzip_head))
          && !memcmp(plain + strlen(gzip_head), gzip_body,
                     strlen(gzip_body)));
    tb_cache_release(e);
}

/* a second call finds it ready */
static void gzip_made_once(void)
{
    tb_cache_t *cache = tb_cache_create(tb_test_pool, 1 << 22, 1 << 21);
    tb_cached_t *e;

    tb_cache_put(cache, "k", "7", heap(cache, gzip_body), strlen(gzip_body));
    e = tb_cache_get(cache, "k", "7");
    REQUIRE(e != NULL);
    tb_cached_gzip(e);
    CHECK(tb_cached_gzip(e) == 1);
    tb_cache_release(e);
}

/* a large, compressible body, and a head longer than one stored block
 * (65,535 bytes) */
static void gzip_large(void)
{
    tb_cache_t *cache = tb_cache_create(tb_test_pool, 1 << 22, 1 << 21);
    char *big_body = tb_cache_body_new(cache), *long_head, *plain;
    apr_size_t gz_len, plain_len, i;
    unsigned char *gz;
    tb_cached_t *e;

    for (i = 0; i < 300000; i++) {
        big_body[i] = "{\"id\":1234,\"name\":\"x\"},"[i % 23];
    }
    tb_cache_put(cache, "big", "8", big_body, 300000);
    e = tb_cache_get(cache, "big", "8");
    REQUIRE(e && tb_cached_gzip(e) && e->deflated_len < 300000 / 10);
    long_head = apr_palloc(tb_test_pool, 70001);
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

const tb_case_t tb_cache_cases[] = {
    {"an answer is found by its key and revision only",
     found_by_key_and_revision},
    {"a newer revision replaces an answer, whose holder still reads it",
     newer_revision_replaces},
    {"an answer larger than the largest kept is not kept",
     too_large_not_kept},
    {"the least recently used answers make room",
     least_recently_used_make_room},
    {"a note that an answer is too large holds for its revision only",
     too_large_note_per_revision},
    {"gzip: head + the stored deflate inflate to the answer",
     gzip_inflates_to_head_and_body},
    {"gzip: made once per answer", gzip_made_once},
    {"gzip: a large body, and a head longer than a stored block",
     gzip_large},
    {NULL, NULL}
};
