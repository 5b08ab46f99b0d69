/* tb_cache.c: a process's cache of encoded load answers.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <apr_atomic.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <apr_time.h>

#include <zlib.h>

#include "tb_cache.h"

/* Entries at most, whatever their size: keys of tiny answers (one page
 * each) must not pile up either. */
#define TB_CACHE_MAX_ENTRIES 256

/* gzip_state */
#define GZIP_NONE 0
#define GZIP_MAKING 1
#define GZIP_READY 2
#define GZIP_FAILED 3

struct tb_cache_t {
    apr_thread_mutex_t *mutex;  /* guards everything below and refs */
    apr_hash_t *table;          /* key -> tb_cached_t * */
    apr_hash_t *too_large;      /* key -> note: one malloc()ed block
                                   "key\0revision" (the hash's key points
                                   at it too), the revision at which the
                                   answer did not fit */
    apr_size_t capacity;
    apr_size_t largest;
    apr_size_t used;            /* bytes of the entries in the table */
    apr_hash_t *flights;        /* "key\0revision" -> tb_flight_t * */
    apr_thread_cond_t *landed;  /* broadcast whenever a flight ends */
};

/* A read of the database that other loads of the same key and revision
 * wait for.  One condition variable for all flights: a flight ends once
 * per database read, so a waiter rarely wakes for another key's, and it
 * checks its own flight anyway. */
struct tb_flight_t {
    tb_cache_t *cache;
    char *name;                 /* the table's key: key, NUL, revision */
    apr_size_t name_len;
    const char *revision;       /* in name */
    apr_uint32_t refs;          /* the leader's and each waiter's */
    int ended;
};

/*
 * Answers live in pages of their own, mapped and unmapped directly.  With
 * malloc(), the buffer that collects an answer of unknown size grows by
 * realloc() to megabytes, and once glibc has freed one such block it keeps
 * later ones of that size in the arena of the thread: every worker thread
 * ended up holding megabytes after its first large board.  A mapping
 * reserves address space only; pages count once they are written.
 */
static apr_size_t page_round(apr_size_t len)
{
    /* Asked every time: a static set on first use was written by one
     * worker thread while others read it (a data race, ThreadSanitizer);
     * the C library answers from memory without a system call. */
    long sz = sysconf(_SC_PAGESIZE);
    apr_size_t page = sz > 0 ? (apr_size_t)sz : 4096;

    return (len + page - 1) / page * page;
}

static void *pages_map(apr_size_t len)
{
    void *p = mmap(NULL, page_round(len ? len : 1), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

    return p == MAP_FAILED ? NULL : p;
}

static void pages_unmap(const void *p, apr_size_t len)
{
    if (p) {
        munmap((void *)p, page_round(len ? len : 1));
    }
}

/* Gives back the pages of a mapping of reserved bytes beyond used. */
static void pages_trim(void *p, apr_size_t reserved, apr_size_t used)
{
    apr_size_t keep = page_round(used ? used : 1);

    if (page_round(reserved) > keep) {
        munmap((char *)p + keep, page_round(reserved) - keep);
    }
}

char *tb_cache_body_new(tb_cache_t *cache)
{
    return pages_map(cache->largest);
}

void tb_cache_body_free(tb_cache_t *cache, char *body)
{
    pages_unmap(body, cache->largest);
}

static apr_size_t entry_bytes(const tb_cached_t *e)
{
    return sizeof(*e) + strlen(e->key) + strlen(e->revision) + e->body_len
           + e->deflated_len;
}

static void entry_free(tb_cached_t *e)
{
    free(e->key);
    free(e->revision);
    pages_unmap(e->body, e->body_len);
    pages_unmap(e->deflated, e->deflated_len);
    free(e);
}

/* Drops one reference; the caller holds the mutex. */
static void unref_locked(tb_cached_t *e)
{
    if (--e->refs == 0) {
        entry_free(e);
    }
}

/* Takes e out of the table (its memory goes when the last request
 * holding it is done); the caller holds the mutex. */
static void unlink_locked(tb_cache_t *cache, tb_cached_t *e)
{
    apr_hash_set(cache->table, e->key, APR_HASH_KEY_STRING, NULL);
    cache->used -= entry_bytes(e);
    e->in_table = 0;
    unref_locked(e);
}

/* Evicts the least recently used entries other than keep until need more
 * bytes fit; the caller holds the mutex. */
static void make_room_locked(tb_cache_t *cache, apr_size_t need,
                             const tb_cached_t *keep)
{
    while (cache->used + need > cache->capacity
           || apr_hash_count(cache->table) >= TB_CACHE_MAX_ENTRIES) {
        apr_hash_index_t *hi;
        tb_cached_t *oldest = NULL;

        for (hi = apr_hash_first(NULL, cache->table); hi;
             hi = apr_hash_next(hi)) {
            tb_cached_t *e = apr_hash_this_val(hi);
            if (e != keep && (!oldest || e->last_used < oldest->last_used)) {
                oldest = e;
            }
        }
        if (!oldest) {
            return;
        }
        unlink_locked(cache, oldest);
    }
}

static void forget_too_large_locked(tb_cache_t *cache)
{
    apr_hash_index_t *hi;

    for (hi = apr_hash_first(NULL, cache->too_large); hi;
         hi = apr_hash_next(hi)) {
        char *note = apr_hash_this_val(hi);
        apr_hash_set(cache->too_large, note, APR_HASH_KEY_STRING, NULL);
        free(note);
    }
}

static apr_status_t cache_cleanup(void *data)
{
    tb_cache_t *cache = data;
    apr_hash_index_t *hi;

    /* Only the table's references are left when the process ends.
     * (APR allows removing the current entry while iterating.) */
    for (hi = apr_hash_first(NULL, cache->table); hi; hi = apr_hash_next(hi)) {
        unlink_locked(cache, apr_hash_this_val(hi));
    }
    forget_too_large_locked(cache);
    return APR_SUCCESS;
}

tb_cache_t *tb_cache_create(apr_pool_t *pool, apr_size_t capacity,
                            apr_size_t largest)
{
    tb_cache_t *cache = apr_pcalloc(pool, sizeof(*cache));

    if (apr_thread_mutex_create(&cache->mutex, APR_THREAD_MUTEX_DEFAULT,
                                pool) != APR_SUCCESS) {
        return NULL;
    }
    if (apr_thread_cond_create(&cache->landed, pool) != APR_SUCCESS) {
        return NULL;
    }
    cache->table = apr_hash_make(pool);
    cache->flights = apr_hash_make(pool);
    cache->too_large = apr_hash_make(pool);
    cache->capacity = capacity;
    cache->largest = largest < capacity ? largest : capacity;
    /* registered after the mutex's own cleanup, so it runs before it */
    apr_pool_cleanup_register(pool, cache, cache_cleanup,
                              apr_pool_cleanup_null);
    return cache;
}

apr_size_t tb_cache_largest(const tb_cache_t *cache)
{
    return cache->largest;
}

/* The answer for key at revision with a new reference, or NULL; the
 * caller holds the mutex. */
static tb_cached_t *get_locked(tb_cache_t *cache, const char *key,
                               const char *revision)
{
    tb_cached_t *e = apr_hash_get(cache->table, key, APR_HASH_KEY_STRING);

    if (!e || strcmp(e->revision, revision) != 0) {
        return NULL;
    }
    e->refs++;
    e->last_used = apr_time_now();
    return e;
}

tb_cached_t *tb_cache_get(tb_cache_t *cache, const char *key,
                          const char *revision)
{
    tb_cached_t *e;

    apr_thread_mutex_lock(cache->mutex);
    e = get_locked(cache, key, revision);
    apr_thread_mutex_unlock(cache->mutex);
    return e;
}

tb_cached_t *tb_cache_get_latest(tb_cache_t *cache, const char *key)
{
    tb_cached_t *e;

    apr_thread_mutex_lock(cache->mutex);
    if ((e = apr_hash_get(cache->table, key, APR_HASH_KEY_STRING)) != NULL) {
        e->refs++;
    }
    apr_thread_mutex_unlock(cache->mutex);
    return e;
}

const char *tb_cached_revision(const tb_cached_t *e)
{
    return e->revision;
}

void tb_cache_note_too_large(tb_cache_t *cache, const char *key,
                             const char *revision)
{
    apr_size_t key_len = strlen(key), rev_len = strlen(revision);
    char *note = malloc(key_len + 1 + rev_len + 1), *old;

    if (!note) {
        return;
    }
    memcpy(note, key, key_len + 1);
    memcpy(note + key_len + 1, revision, rev_len + 1);
    apr_thread_mutex_lock(cache->mutex);
    if ((old = apr_hash_get(cache->too_large, key, APR_HASH_KEY_STRING))) {
        apr_hash_set(cache->too_large, old, APR_HASH_KEY_STRING, NULL);
        free(old);
    }
    if (apr_hash_count(cache->too_large) >= TB_CACHE_MAX_ENTRIES) {
        forget_too_large_locked(cache);
    }
    apr_hash_set(cache->too_large, note, APR_HASH_KEY_STRING, note);
    apr_thread_mutex_unlock(cache->mutex);
}

int tb_cache_is_too_large(tb_cache_t *cache, const char *key,
                          const char *revision)
{
    const char *note;
    int too_large;

    apr_thread_mutex_lock(cache->mutex);
    note = apr_hash_get(cache->too_large, key, APR_HASH_KEY_STRING);
    too_large = note && strcmp(note + strlen(note) + 1, revision) == 0;
    apr_thread_mutex_unlock(cache->mutex);
    return too_large;
}

void tb_cache_release(tb_cached_t *e)
{
    tb_cache_t *cache = e->cache;

    apr_thread_mutex_lock(cache->mutex);
    unref_locked(e);
    apr_thread_mutex_unlock(cache->mutex);
}

tb_cached_t *tb_cache_entry_create(tb_cache_t *cache, const char *key,
                                   const char *revision, char *body,
                                   apr_size_t body_len)
{
    tb_cached_t *e = body_len <= cache->largest ? calloc(1, sizeof(*e))
                                                : NULL;

    if (!e) {
        tb_cache_body_free(cache, body);
        return NULL;
    }
    pages_trim(body, cache->largest, body_len);
    e->body = body;
    e->body_len = body_len;
    e->key = strdup(key);
    e->revision = strdup(revision);
    if (!e->key || !e->revision) {
        entry_free(e);
        return NULL;
    }
    e->cache = cache;
    e->refs = 1;                /* the caller's */
    e->last_used = apr_time_now();
    return e;
}

void tb_cache_publish(tb_cached_t *e)
{
    tb_cache_t *cache = e->cache;
    tb_cached_t *old;
    apr_size_t bytes = entry_bytes(e);

    if (e->body_len > cache->largest) {
        return;
    }
    apr_thread_mutex_lock(cache->mutex);
    old = apr_hash_get(cache->table, e->key, APR_HASH_KEY_STRING);
    if (old) {
        unlink_locked(cache, old);
    }
    make_room_locked(cache, bytes, NULL);
    if (cache->used + bytes <= cache->capacity) {
        e->refs++;              /* the table's */
        e->in_table = 1;
        apr_hash_set(cache->table, e->key, APR_HASH_KEY_STRING, e);
        cache->used += bytes;
    }
    apr_thread_mutex_unlock(cache->mutex);
}

void tb_cache_put(tb_cache_t *cache, const char *key, const char *revision,
                  char *body, apr_size_t body_len)
{
    tb_cached_t *e = tb_cache_entry_create(cache, key, revision, body,
                                           body_len);

    if (e) {
        tb_cache_publish(e);
        tb_cache_release(e);
    }
}

static void flight_unref_locked(tb_flight_t *f)
{
    if (--f->refs == 0) {
        free(f->name);
        free(f);
    }
}

/* A new flight in the table, held by its leader; NULL without memory.
 * The caller holds the mutex. */
static tb_flight_t *flight_new_locked(tb_cache_t *cache, const char *name,
                                      apr_size_t name_len,
                                      apr_size_t key_len)
{
    tb_flight_t *f = calloc(1, sizeof(*f));

    if (!f || !(f->name = malloc(name_len + 1))) {
        free(f);
        return NULL;
    }
    memcpy(f->name, name, name_len);
    f->name[name_len] = '\0';
    f->name_len = name_len;
    f->revision = f->name + key_len + 1;
    f->cache = cache;
    f->refs = 1;
    apr_hash_set(cache->flights, f->name, f->name_len, f);
    return f;
}

/* Waits for f to end, at most until deadline; the caller holds the mutex
 * and a reference on f. */
static void flight_wait_locked(tb_cache_t *cache, tb_flight_t *f,
                               apr_time_t deadline)
{
    while (!f->ended) {
        apr_time_t now = apr_time_now();
        if (now >= deadline) {
            return;
        }
        /* a timeout or a wake-up for another flight: look again */
        apr_thread_cond_timedwait(cache->landed, cache->mutex,
                                  deadline - now);
    }
}

int tb_cache_flight_begin(tb_cache_t *cache, const char *key,
                          const char *revision, apr_interval_time_t wait,
                          tb_cached_t **hit, tb_flight_t **flight)
{
    apr_size_t key_len = strlen(key), rev_len = strlen(revision);
    apr_size_t name_len = key_len + 1 + rev_len;
    char *name = malloc(name_len + 1);
    tb_flight_t *f;
    int answer;

    *hit = NULL;
    *flight = NULL;
    if (!name) {
        return TB_FLIGHT_ALONE;
    }
    memcpy(name, key, key_len + 1);
    memcpy(name + key_len + 1, revision, rev_len + 1);
    apr_thread_mutex_lock(cache->mutex);
    if ((*hit = get_locked(cache, key, revision)) != NULL) {
        answer = TB_FLIGHT_HIT;
    }
    else if (!(f = apr_hash_get(cache->flights, name, name_len))) {
        *flight = flight_new_locked(cache, name, name_len, key_len);
        answer = *flight ? TB_FLIGHT_LEAD : TB_FLIGHT_ALONE;
    }
    else {
        f->refs++;
        flight_wait_locked(cache, f, apr_time_now() + wait);
        flight_unref_locked(f);
        *hit = get_locked(cache, key, revision);
        answer = *hit ? TB_FLIGHT_WAITED : TB_FLIGHT_ALONE;
    }
    apr_thread_mutex_unlock(cache->mutex);
    free(name);
    return answer;
}

void tb_cache_flight_end(tb_flight_t *f)
{
    tb_cache_t *cache;

    if (!f) {
        return;
    }
    cache = f->cache;
    apr_thread_mutex_lock(cache->mutex);
    f->ended = 1;
    apr_hash_set(cache->flights, f->name, f->name_len, NULL);
    apr_thread_cond_broadcast(cache->landed);
    flight_unref_locked(f);
    apr_thread_mutex_unlock(cache->mutex);
}

/* Compresses body into a raw deflate stream (no zlib or gzip wrapper),
 * ending with a final block. */
static int deflate_body(const char *body, apr_size_t len,
                        unsigned char **out, apr_size_t *out_len)
{
    z_stream zs;
    uLong bound;
    int rv;

    memset(&zs, 0, sizeof(zs));
    if (len > 0xffffffffUL
        || deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -MAX_WBITS,
                        8, Z_DEFAULT_STRATEGY) != Z_OK) {
        return -1;
    }
    bound = deflateBound(&zs, (uLong)len);
    if (!(*out = pages_map(bound))) {
        deflateEnd(&zs);
        return -1;
    }
    zs.next_in = (Bytef *)body;
    zs.avail_in = (uInt)len;
    zs.next_out = *out;
    zs.avail_out = (uInt)bound;
    rv = deflate(&zs, Z_FINISH);
    *out_len = zs.total_out;
    deflateEnd(&zs);
    if (rv != Z_STREAM_END) {
        pages_unmap(*out, bound);
        *out = NULL;
        return -1;
    }
    pages_trim(*out, bound, *out_len);
    return 0;
}

int tb_cached_gzip(tb_cached_t *e)
{
    tb_cache_t *cache = e->cache;
    unsigned char *deflated;
    apr_size_t deflated_len;

    if (apr_atomic_read32(&e->gzip_state) == GZIP_READY) {
        return 1;
    }
    if (apr_atomic_cas32(&e->gzip_state, GZIP_MAKING, GZIP_NONE)
        != GZIP_NONE) {
        return 0;               /* being made, or it failed before */
    }
    if (deflate_body(e->body, e->body_len, &deflated, &deflated_len) != 0) {
        apr_atomic_set32(&e->gzip_state, GZIP_FAILED);
        return 0;
    }
    e->crc = crc32(crc32(0L, Z_NULL, 0), (const Bytef *)e->body,
                   (uInt)e->body_len);

    apr_thread_mutex_lock(cache->mutex);
    e->deflated = deflated;
    e->deflated_len = deflated_len;
    if (e->in_table) {
        cache->used += deflated_len;
        make_room_locked(cache, 0, e);
    }
    apr_thread_mutex_unlock(cache->mutex);
    /* published last: readers look at the state before the fields */
    apr_atomic_set32(&e->gzip_state, GZIP_READY);
    return 1;
}

void tb_cache_stats(tb_cache_t *cache, tb_cache_stats_t *stats)
{
    apr_thread_mutex_lock(cache->mutex);
    stats->entries = apr_hash_count(cache->table);
    stats->bytes = cache->used;
    stats->flights = apr_hash_count(cache->flights);
    apr_thread_mutex_unlock(cache->mutex);
}

static void put_le32(unsigned char *p, unsigned long v)
{
    p[0] = (unsigned char)(v & 0xff);
    p[1] = (unsigned char)((v >> 8) & 0xff);
    p[2] = (unsigned char)((v >> 16) & 0xff);
    p[3] = (unsigned char)((v >> 24) & 0xff);
}

apr_size_t tb_gzip_head(unsigned char *out, const char *head,
                        apr_size_t head_len)
{
    /* RFC 1952 header: deflate, no flags, no time, OS unknown */
    static const unsigned char header[10] = {
        0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff
    };
    unsigned char *p = out;

    memcpy(p, header, sizeof(header));
    p += sizeof(header);
    /* RFC 1951 stored blocks, not final: the cached stream follows.  The
     * header bits (BFINAL 0, BTYPE 00) and the padding to the byte
     * boundary make one zero byte, since every block starts aligned. */
    do {
        apr_size_t n = head_len > 65535 ? 65535 : head_len;
        *p++ = 0;
        *p++ = (unsigned char)(n & 0xff);
        *p++ = (unsigned char)(n >> 8);
        *p++ = (unsigned char)(~n & 0xff);
        *p++ = (unsigned char)((~n >> 8) & 0xff);
        memcpy(p, head, n);
        p += n;
        head += n;
        head_len -= n;
    } while (head_len > 0);
    return (apr_size_t)(p - out);
}

void tb_gzip_trailer(unsigned char *out, const char *head,
                     apr_size_t head_len, const tb_cached_t *e)
{
    uLong crc = crc32(crc32(0L, Z_NULL, 0), (const Bytef *)head,
                      (uInt)head_len);

    crc = crc32_combine(crc, e->crc, (z_off_t)e->body_len);
    put_le32(out, crc);
    put_le32(out + 4, (unsigned long)((head_len + e->body_len) & 0xffffffffUL));
}
