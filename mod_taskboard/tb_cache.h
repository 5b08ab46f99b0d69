/* tb_cache.h: a process's cache of encoded load answers.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/**
 * @file tb_cache.h
 * @brief A process's cache of encoded load answers, independent of httpd.
 *
 * A load answer is a pure function of the stores asked for and the data,
 * and the data changes only together with the board's revision.  So the
 * bytes of an answer are kept under (what was asked, revision) and served
 * again while the revision stays the same; every load still reads the
 * current revision first, which keeps this right across processes and
 * machines.  What is cached is the answer without its head
 * ({"success":true,"type":"load" and the requestId), which differs per
 * request and is written in front of the cached bytes.
 *
 * The gzip form is made once per answer, on first demand, as a raw
 * deflate stream of the cached bytes.  A response is then a gzip header,
 * the per-request head as a stored (uncompressed) deflate block, the
 * cached stream and a trailer whose CRC is combined arithmetically, so no
 * request ever compresses anything.
 *
 * Threads share the cache; entries are counted references, so an answer
 * being sent survives its replacement by a newer revision.
 */

#ifndef TB_CACHE_H
#define TB_CACHE_H

#include <apr_pools.h>
#include <apr_time.h>

typedef struct tb_cache_t tb_cache_t;

/** One cached answer.  Read-only once published, except for the gzip
 *  form, which is filled in once (gzip_ready). */
typedef struct tb_cached_t {
    const char *body;               /* the answer after its head */
    apr_size_t body_len;
    const unsigned char *deflated;  /* raw deflate of body, when ready */
    apr_size_t deflated_len;
    unsigned long crc;              /* CRC-32 of body, when ready */
    volatile apr_uint32_t gzip_state; /* see tb_cached_gzip */
    /* private */
    char *key;
    char *revision;
    apr_uint32_t refs;
    apr_time_t last_used;
    int in_table;
    tb_cache_t *cache;
} tb_cached_t;

/**
 * Creates the cache in pool (destroying the pool frees every entry no
 * request holds).
 * @param capacity bytes all answers may take together (bodies plus their
 *        gzip forms)
 * @param largest bytes a single answer may take; larger ones are not kept
 * @return NULL when the mutex cannot be created
 */
tb_cache_t *tb_cache_create(apr_pool_t *pool, apr_size_t capacity,
                            apr_size_t largest);

/** The largest answer the cache keeps, so a filler can stop collecting. */
apr_size_t tb_cache_largest(const tb_cache_t *cache);

/**
 * The answer for key at revision, with a reference the caller must give
 * back with tb_cache_release; NULL on a miss.
 */
tb_cached_t *tb_cache_get(tb_cache_t *cache, const char *key,
                          const char *revision);

/**
 * The answer for key at whatever revision the cache holds (with a
 * reference, as tb_cache_get): the base of a load rebuilt from an
 * earlier answer; NULL when it holds none.
 */
tb_cached_t *tb_cache_get_latest(tb_cache_t *cache, const char *key);

/** The revision of an entry, as it was put. */
const char *tb_cached_revision(const tb_cached_t *entry);

/**
 * Remembers that the answer for key at revision is larger than the cache
 * keeps, so that the next loads at that revision stream it at once instead
 * of collecting megabytes first; a later revision tries again.
 */
void tb_cache_note_too_large(tb_cache_t *cache, const char *key,
                             const char *revision);
int tb_cache_is_too_large(tb_cache_t *cache, const char *key,
                          const char *revision);

/** Gives back a reference from tb_cache_get. */
void tb_cache_release(tb_cached_t *entry);

/**
 * A buffer for an answer of up to tb_cache_largest() bytes, in pages of
 * its own that count only once written; NULL when none can be mapped.
 * Handed to tb_cache_entry_create (or tb_cache_put), or given back with
 * tb_cache_body_free.
 */
char *tb_cache_body_new(tb_cache_t *cache);
void tb_cache_body_free(tb_cache_t *cache, char *body);

/**
 * Wraps an answer in an entry that only the caller holds (one reference,
 * given back with tb_cache_release): body comes from tb_cache_body_new
 * and belongs to the entry from now on (its unused pages are given back).
 * NULL when memory ran out (body is freed then).
 */
tb_cached_t *tb_cache_entry_create(tb_cache_t *cache, const char *key,
                                   const char *revision, char *body,
                                   apr_size_t body_len);

/**
 * Puts an entry from tb_cache_entry_create into the cache, where it
 * replaces the entry for its key at another revision; the least recently
 * used entries make room.  An entry too large to keep stays the caller's
 * alone.
 */
void tb_cache_publish(tb_cached_t *entry);

/** tb_cache_entry_create, tb_cache_publish and tb_cache_release in one. */
void tb_cache_put(tb_cache_t *cache, const char *key, const char *revision,
                  char *body, apr_size_t body_len);

/**
 * Makes sure the gzip form exists: the first caller compresses, callers
 * meanwhile get 0 and serve the plain answer.  Returns 1 when deflated,
 * deflated_len and crc may be used.
 */
int tb_cached_gzip(tb_cached_t *entry);

/**
 * Single flight: the loads that miss the same key at the same revision at
 * the same time wait for one of them to read the database, instead of
 * each reading it.
 *
 * tb_cache_flight_begin answers TB_FLIGHT_HIT with *hit (a reference, as
 * from tb_cache_get) when the answer is in the cache, TB_FLIGHT_WAITED
 * with *hit when it arrived while waiting; TB_FLIGHT_LEAD when the caller
 * is the first: it reads, publishes and then must call
 * tb_cache_flight_end with *flight, whatever happened (the others wait
 * for that); TB_FLIGHT_ALONE when it waited wait
 * microseconds in vain, or the first one ended without publishing that
 * revision's answer (a failure, an answer too large to keep): the caller
 * reads for itself, as if there were no single flight, and ends nothing.
 */
typedef struct tb_flight_t tb_flight_t;

enum { TB_FLIGHT_HIT = 1, TB_FLIGHT_WAITED, TB_FLIGHT_LEAD,
       TB_FLIGHT_ALONE };

int tb_cache_flight_begin(tb_cache_t *cache, const char *key,
                          const char *revision, apr_interval_time_t wait,
                          tb_cached_t **hit, tb_flight_t **flight);

/** Ends a flight from TB_FLIGHT_LEAD and wakes its waiters (once; NULL
 *  is allowed and does nothing). */
void tb_cache_flight_end(tb_flight_t *flight);

/** What a cache holds, for tests and logs. */
typedef struct tb_cache_stats_t {
    apr_size_t entries;
    apr_size_t bytes;
    apr_size_t flights;         /* keys being read with others waiting */
} tb_cache_stats_t;

void tb_cache_stats(tb_cache_t *cache, tb_cache_stats_t *stats);

/** Bytes tb_gzip_head writes at most for a head of head_len bytes. */
#define TB_GZIP_HEAD_MAX(head_len) \
    (10 + (((head_len) / 65535) + 1) * 5 + (head_len))

/**
 * Writes the gzip header and head as stored deflate blocks into out
 * (TB_GZIP_HEAD_MAX bytes); returns the bytes written.
 */
apr_size_t tb_gzip_head(unsigned char *out, const char *head,
                        apr_size_t head_len);

/** Writes the 8-byte gzip trailer for head followed by entry's body. */
void tb_gzip_trailer(unsigned char *out, const char *head,
                     apr_size_t head_len, const tb_cached_t *entry);

#endif /* TB_CACHE_H */
