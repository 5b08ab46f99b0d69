/* tb_json.h: JSON in (jansson, in APR pools) and out (a streaming writer).
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/**
 * @file tb_json.h
 * @brief JSON in and out, independent of httpd.
 *
 * Input is parsed with jansson; every parsed value is tied to an APR pool
 * so that it cannot leak on any path.  Output is streamed through a small
 * writer that escapes strings itself, so that rows go from the database
 * cursor to the client without a whole jansson tree in memory.
 */

#ifndef TB_JSON_H
#define TB_JSON_H

#include <apr_pools.h>

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#endif
#include <jansson.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

/** Deepest nesting accepted in a request package. */
#define TB_JSON_MAX_DEPTH 64

/**
 * Ties a jansson value to a pool: json_decref runs when the pool is
 * cleared.  Returns json for convenience (NULL stays NULL).
 */
json_t *tb_json_pool_own(apr_pool_t *pool, json_t *json);

/**
 * Parses a whole JSON text (any value at the top) into a pool-owned value.
 * @param msg on failure, a message for a person (line and column), from pool
 * @return the value, or NULL on failure
 */
json_t *tb_json_parse(apr_pool_t *pool, const char *buf, apr_size_t len,
                      const char **msg);

/** Encodes a value compactly into pool memory (NULL on failure). */
char *tb_json_encode(apr_pool_t *pool, const json_t *json);

/** Where the writer sends its bytes: returns non-zero to stop. */
typedef int tb_jw_sink_fn(void *ctx, const char *buf, apr_size_t len);

/* Bytes gathered before the sink is called: rows are written in many
 * small pieces, and one sink call per piece would dominate a load. */
#define TB_JW_BUFFER 8192

typedef struct tb_jw_t {
    tb_jw_sink_fn *sink;
    void *ctx;
    int failed;                 /* sticky: the sink refused once */
    apr_size_t len;             /* bytes waiting in buf */
    char buf[TB_JW_BUFFER];
} tb_jw_t;

void tb_jw_init(tb_jw_t *jw, tb_jw_sink_fn *sink, void *ctx);

/** Hands what is buffered to the sink; returns non-zero after a failure. */
int tb_jw_flush(tb_jw_t *jw);

/** Writes bytes as they are (already valid JSON). */
void tb_jw_raw(tb_jw_t *jw, const char *buf, apr_size_t len);
void tb_jw_cstr(tb_jw_t *jw, const char *s);

/**
 * Writes a quoted, escaped JSON string.  Invalid UTF-8 sequences are
 * replaced by U+FFFD so that the output is always valid JSON.
 */
void tb_jw_string(tb_jw_t *jw, const char *s, apr_size_t len);

/** Number of UTF-8 characters in s, or -1 when s is not valid UTF-8. */
apr_int64_t tb_utf8_length(const char *s, apr_size_t len);

/** A sink that collects the output in pool memory, NUL-terminated. */
typedef struct tb_membuf_t {
    apr_pool_t *pool;
    char *buf;
    apr_size_t len, cap;
} tb_membuf_t;

void tb_membuf_init(tb_membuf_t *mb, apr_pool_t *pool);
int tb_membuf_sink(void *ctx, const char *buf, apr_size_t len);

/** Returns the quoted, escaped form of s, from pool (for "\"name\":" keys). */
const char *tb_json_quote(apr_pool_t *pool, const char *s);

#endif /* TB_JSON_H */
