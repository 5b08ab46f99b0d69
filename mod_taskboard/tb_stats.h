/* tb_stats.h: the counters per location behind the status page.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/**
 * @file tb_stats.h
 * @brief Counters per location for the status handler, independent of
 *        httpd.  The slots live in memory shared by all httpd processes
 *        (set up by the glue); every field is changed only with atomic
 *        operations, so no lock is needed between processes.
 */

#ifndef TB_STATS_H
#define TB_STATS_H

#include <apr_time.h>

#include "tb_db.h"
#include "tb_json.h"

/* Latency buckets: bucket b counts requests shorter than
 * tb_stats_bucket_limit(b) (100 us, then steps of sqrt(2), up to about
 * 4.6 s); the last one counts the longer ones too. */
#define TB_STATS_BUCKETS 32

/* The longest location label kept (longer ones are cut), and the most
 * locations counted apart (the rest share slot 0, "(other)"). */
#define TB_STATS_PATH 120
#define TB_STATS_SLOTS 64

/** What one request did, filled in by the handlers. */
typedef struct tb_req_stats_t {
    int kind;                   /* TB_STATS_LOAD, ... */
    const tb_db_t *db;          /* the request's connection, if any */
    int rows_written;           /* records a sync changed */
    int rollbacks;              /* transactions rolled back */
    int cache_hit;              /* answered from the load cache */
    int load_waited;            /* ... after waiting for another's read */
    int load_rebuilt;           /* built from an earlier revision's answer */
    int load_read;              /* every store read from the database */
    int db_errors;              /* database failures logged */
} tb_req_stats_t;

enum { TB_STATS_LOAD = 1, TB_STATS_SYNC, TB_STATS_EVENTS };

/** The counters of one location, summed over the processes. */
typedef struct tb_stats_slot_t {
    apr_uint32_t state;         /* 0 free, 1 being claimed, 2 in use */
    char path[TB_STATS_PATH];
    apr_uint32_t requests;      /* load + sync + events */
    apr_uint32_t loads, syncs, events;
    apr_uint32_t errors;        /* answers with a status of 400 or more */
    apr_uint32_t conflicts;     /* 409 answers */
    apr_uint32_t rows_written;
    apr_uint32_t rollbacks;
    apr_uint32_t cache_hits;
    apr_uint32_t loads_waited, loads_rebuilt, loads_read;
    apr_uint32_t db_errors;
    apr_uint32_t latency[TB_STATS_BUCKETS]; /* loads and syncs */
} tb_stats_slot_t;

/** Makes slots (TB_STATS_SLOTS of them, zeroed) ready: slot 0 is "(other)". */
void tb_stats_init(tb_stats_slot_t *slots);

/**
 * The slot of a location label, claimed on first use.  Processes claim
 * slots in index order with a compare-and-swap, so one label never gets
 * two slots.  Slot 0 when all are taken.
 */
tb_stats_slot_t *tb_stats_find(tb_stats_slot_t *slots, const char *label);

/** The upper limit of a latency bucket, in microseconds. */
apr_interval_time_t tb_stats_bucket_limit(int bucket);

/** The bucket of a duration. */
int tb_stats_bucket(apr_interval_time_t duration);

/** Adds one finished request to a slot (atomically). */
void tb_stats_add(tb_stats_slot_t *slot, const tb_req_stats_t *req,
                  int status, apr_interval_time_t duration);

/**
 * The duration below which the fraction p (0..1) of the slot's loads and
 * syncs finished: the upper limit of the bucket where that fraction is
 * reached, so at most a step of sqrt(2) above the true value.  0 when
 * the slot has none.
 */
apr_interval_time_t tb_stats_percentile(const tb_stats_slot_t *slot,
                                        double p);

/** What the process that answers the status request has open now (not
 *  summed: each process has its own). */
typedef struct tb_stats_process_t {
    long pid;
    int event_streams;          /* open event streams */
    int event_streams_max;      /* the most it serves at once */
    int event_streams_client;   /* the most for one client */
    int event_feeds;            /* boards' feeds in its memory */
} tb_stats_process_t;

/** Writes {"locations":[{"path":..,"requests":..,...},...]}, the slots
 *  in use, and "process":{"pid":..,"eventStreams":..,...} when proc is
 *  given. */
void tb_stats_write_json(tb_jw_t *jw, const tb_stats_slot_t *slots,
                         const tb_stats_process_t *proc);

#endif /* TB_STATS_H */
