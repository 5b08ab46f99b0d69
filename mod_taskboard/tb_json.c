/* tb_json.c: JSON in (jansson, in APR pools) and out (a streaming writer).
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

#include <string.h>

#include <apr_strings.h>

#include "tb_json.h"

static apr_status_t json_pool_cleanup(void *data)
{
    json_decref((json_t *)data);
    return APR_SUCCESS;
}

json_t *tb_json_pool_own(apr_pool_t *pool, json_t *json)
{
    if (json) {
        apr_pool_cleanup_register(pool, json, json_pool_cleanup,
                                  apr_pool_cleanup_null);
    }
    return json;
}

/* Depth of the deepest array/object in a text, counted without parsing it,
 * so that a hostile "[[[[..." cannot recurse through jansson. */
static int text_depth_exceeds(const char *buf, apr_size_t len, int limit)
{
    int depth = 0, in_string = 0;
    apr_size_t i;

    for (i = 0; i < len; i++) {
        char c = buf[i];
        if (in_string) {
            if (c == '\\') {
                i++;
            }
            else if (c == '"') {
                in_string = 0;
            }
        }
        else if (c == '"') {
            in_string = 1;
        }
        else if (c == '[' || c == '{') {
            if (++depth > limit) {
                return 1;
            }
        }
        else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return 0;
}

json_t *tb_json_parse(apr_pool_t *pool, const char *buf, apr_size_t len,
                      const char **msg)
{
    json_error_t err;
    json_t *json;

    if (text_depth_exceeds(buf, len, TB_JSON_MAX_DEPTH)) {
        *msg = apr_psprintf(pool, "the JSON is nested deeper than %d levels",
                            TB_JSON_MAX_DEPTH);
        return NULL;
    }
    /* JSON_ALLOW_NUL is left out on purpose: a NUL inside a string is
     * rejected here instead of being cut short by the C string APIs. */
    json = json_loadb(buf, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
                      &err);
    if (!json) {
        /* jansson names its own flag here; say it for a person */
        const char *why = strstr(err.text, "JSON_ALLOW_NUL")
                          ? "a string holds a NUL character (\\u0000), "
                            "which is not accepted"
                          : err.text;
        *msg = apr_psprintf(pool, "the request is not valid JSON: %s "
                            "(line %d, column %d)", why, err.line,
                            err.column);
        return NULL;
    }
    return tb_json_pool_own(pool, json);
}

char *tb_json_encode(apr_pool_t *pool, const json_t *json)
{
    char *s = json_dumps(json, JSON_COMPACT | JSON_ENCODE_ANY);
    char *copy;

    if (!s) {
        return NULL;
    }
    copy = apr_pstrdup(pool, s);
    free(s);
    return copy;
}

void tb_jw_init(tb_jw_t *jw, tb_jw_sink_fn *sink, void *ctx)
{
    jw->sink = sink;
    jw->ctx = ctx;
    jw->failed = 0;
    jw->len = 0;
}

int tb_jw_flush(tb_jw_t *jw)
{
    if (!jw->failed && jw->len > 0 && jw->sink(jw->ctx, jw->buf, jw->len)) {
        jw->failed = 1;
    }
    jw->len = 0;
    return jw->failed;
}

void tb_jw_raw(tb_jw_t *jw, const char *buf, apr_size_t len)
{
    if (jw->len + len > TB_JW_BUFFER) {
        tb_jw_flush(jw);
        if (len > TB_JW_BUFFER) {
            /* too big to buffer: straight through */
            if (!jw->failed && jw->sink(jw->ctx, buf, len)) {
                jw->failed = 1;
            }
            return;
        }
    }
    memcpy(jw->buf + jw->len, buf, len);
    jw->len += len;
}

void tb_jw_cstr(tb_jw_t *jw, const char *s)
{
    tb_jw_raw(jw, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s (at most len bytes), or 0 when
 * it is not a valid, shortest-form encoding of a scalar value. */
static apr_size_t utf8_sequence(const unsigned char *s, apr_size_t len)
{
    unsigned char c = s[0];
    apr_size_t n, i;
    apr_uint32_t cp;

    if (c < 0x80) {
        return 1;
    }
    else if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    }
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
    }
    else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
    }
    else {
        return 0;
    }
    if (len < n) {
        return 0;
    }
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))
        || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return 0;
    }
    return n;
}

apr_int64_t tb_utf8_length(const char *s, apr_size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    apr_int64_t chars = 0;
    apr_size_t i = 0, n;

    while (i < len) {
        n = utf8_sequence(p + i, len - i);
        if (n == 0) {
            return -1;
        }
        i += n;
        chars++;
    }
    return chars;
}

void tb_jw_string(tb_jw_t *jw, const char *s, apr_size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    apr_size_t i = 0, run = 0, n;
    char esc[8];

    tb_jw_raw(jw, "\"", 1);
    while (i < len) {
        unsigned char c = p[i];
        const char *rep = NULL;
        apr_size_t rep_len = 2;

        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0x80) {
            n = utf8_sequence(p + i, len - i);
            if (n > 0) {
                i += n;
                continue;
            }
            rep = "\xEF\xBF\xBD";   /* U+FFFD for an invalid byte */
            rep_len = 3;
        }
        else {
            switch (c) {
            case '"':  rep = "\\\""; break;
            case '\\': rep = "\\\\"; break;
            case '\n': rep = "\\n"; break;
            case '\r': rep = "\\r"; break;
            case '\t': rep = "\\t"; break;
            case '\b': rep = "\\b"; break;
            case '\f': rep = "\\f"; break;
            default:
                esc[0] = '\\'; esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
                esc[4] = hex[c >> 4]; esc[5] = hex[c & 0xF];
                rep = esc;
                rep_len = 6;
                break;
            }
        }
        tb_jw_raw(jw, s + run, i - run);
        tb_jw_raw(jw, rep, rep_len);
        i++;
        run = i;
    }
    tb_jw_raw(jw, s + run, i - run);
    tb_jw_raw(jw, "\"", 1);
}

void tb_membuf_init(tb_membuf_t *mb, apr_pool_t *pool)
{
    mb->pool = pool;
    mb->cap = 64;
    mb->buf = apr_palloc(pool, mb->cap);
    mb->len = 0;
    mb->buf[0] = '\0';
}

int tb_membuf_sink(void *ctx, const char *buf, apr_size_t len)
{
    tb_membuf_t *mb = ctx;

    if (mb->len + len + 1 > mb->cap) {
        apr_size_t cap = (mb->len + len + 1) * 2;
        char *grown = apr_palloc(mb->pool, cap);
        memcpy(grown, mb->buf, mb->len);
        mb->buf = grown;
        mb->cap = cap;
    }
    memcpy(mb->buf + mb->len, buf, len);
    mb->len += len;
    mb->buf[mb->len] = '\0';
    return 0;
}

const char *tb_json_quote(apr_pool_t *pool, const char *s)
{
    tb_membuf_t mb;
    tb_jw_t jw;

    tb_membuf_init(&mb, pool);
    tb_jw_init(&jw, tb_membuf_sink, &mb);
    tb_jw_string(&jw, s, strlen(s));
    tb_jw_flush(&jw);
    return mb.buf;
}
