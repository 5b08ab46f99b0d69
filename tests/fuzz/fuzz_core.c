/* fuzz_core.c: the libFuzzer target over every parser of request bytes.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/*
 * libFuzzer target over the httpd-independent decoding and validation
 * core (see tests/fuzz/README.md).  Every input goes, as it is, through:
 *
 *   - tb_load_request_parse and tb_sync_parse (exact length, not
 *     NUL-terminated: an over-read of the input is an ASan report),
 *   - tb_form_value on a NUL-terminated copy read as a query string or
 *     form body, and the decoded "data" value through both parsers again,
 *   - tb_datetime_to_utc_sql and tb_date_normalize on the copy,
 *   - the JSON writer tb_jw_string on the raw bytes,
 *   - tb_write_db_value and tb_db_value_equal on the copy as database text,
 *
 * and checks invariants that must hold whatever the input: every response
 * body the module would build from the results (error messages, 422
 * "errors", requestId echo, the sync response) is valid JSON; tb_jw_string
 * round-trips valid UTF-8; a successful sync holds only values that pass
 * their field's checks, that the database would hand back equal, and that
 * come back from a load as the same value; phantom references resolve;
 * parents come before children.  A violated invariant calls abort(), which
 * libFuzzer reports as a crash with the input saved.
 *
 * APR pools hand out memory from 8 KB blocks, so ASan cannot see an
 * overflow of one pool allocation into the next.  This harness therefore
 * interposes apr_palloc (and so apr_pcalloc, apr_pstrdup, apr_pstrcat,
 * apr_array_*, apr_hash_*, ...) for the per-input pool only: each
 * allocation becomes its own malloc() chunk, freed by a pool cleanup.
 * apr_psprintf writes straight into the pool's block and stays invisible.
 * TB_FUZZ_POOL_MALLOC=0 turns the interposition off.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_lib.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "tb_convert.h"
#include "tb_headers.h"
#include "tb_json.h"
#include "tb_model.h"
#include "tb_request.h"
#include "tb_sql.h"
#include "tb_sync.h"
#include "tb_answer.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#define TB_FUZZ_ASAN 1
#endif
#endif

/* The phantom ids of the real client are ~50 bytes; the module keeps at
 * most 191 (TB_MAX_PHANTOM in tb_sync_parse.c). */
#define FUZZ_MAX_PHANTOM 191
#define FUZZ_MAX_RECORDS 50
#define FUZZ_MAX_INVALID 100

static apr_pool_t *root;

/* What the input was accepted as.  TB_FUZZ_EXPECT (fuzz.sh repro, from
 * valid.txt) names what a valid seed must be accepted as, so that a
 * parser that refuses everything fails the reproducers. */
enum {
    ACC_LOAD = 1 << 0,          /* tb_load_request_parse: no message */
    ACC_SYNC = 1 << 1,          /* tb_sync_parse: 0 */
    ACC_FORM_LOAD = 1 << 2,     /* data= of a query string, as a load */
    ACC_FORM_SYNC = 1 << 3,     /* data= of a form body, as a sync */
    ACC_LAST_EVENT_ID = 1 << 4, /* a Last-Event-ID to resume after */
    ACC_ORIGIN = 1 << 5,        /* an Origin that TaskBoardAllowOrigin lists */
    ACC_ORIGIN_CONF = 1 << 6,   /* a TaskBoardAllowOrigin argument */
    ACC_BOARD_INT = 1 << 7,     /* a board of an int TaskBoardScope */
    ACC_BOARD_STRING = 1 << 8   /* a board of a string TaskBoardScope */
};
static const struct {
    const char *name;
    unsigned bit;
} acc_names[] = {
    {"load", ACC_LOAD}, {"sync", ACC_SYNC}, {"form-load", ACC_FORM_LOAD},
    {"form-sync", ACC_FORM_SYNC}, {"last-event-id", ACC_LAST_EVENT_ID},
    {"origin", ACC_ORIGIN}, {"origin-config", ACC_ORIGIN_CONF},
    {"board-int", ACC_BOARD_INT}, {"board-string", ACC_BOARD_STRING},
};
static unsigned accepted, expected;
static apr_array_header_t *served;      /* tb_store_t * */
static tb_sync_conf_t sync_conf;
/* the same with a project (<TaskBoardProject>): "project" is parsed as
 * its row's update instead of being ignored */
static tb_sync_conf_t sync_conf_project;
static int verbose;                     /* TB_FUZZ_VERBOSE=1 */

/* ---------------------------------------------------------------------- */
/* apr_palloc interposition (see the top of the file) */

static apr_pool_t *tracked;             /* the per-input pool, or NULL */
static int in_palloc;
static int pool_malloc = 1;
static void *(*real_palloc)(apr_pool_t *, apr_size_t);

static apr_status_t free_chunk(void *data)
{
    free(data);
    return APR_SUCCESS;
}

static int is_tracked(apr_pool_t *p)
{
    for (; p; p = apr_pool_parent_get(p)) {
        if (p == tracked) {
            return 1;
        }
    }
    return 0;
}

void *apr_palloc(apr_pool_t *p, apr_size_t size)
{
    void *mem;

    if (!real_palloc) {
        real_palloc = (void *(*)(apr_pool_t *, apr_size_t))
                      dlsym(RTLD_NEXT, "apr_palloc");
        if (!real_palloc) {
            fprintf(stderr, "fuzz_core: apr_palloc not found\n");
            abort();
        }
    }
    if (!pool_malloc || in_palloc || !tracked || !is_tracked(p)) {
        return real_palloc(p, size);
    }
    mem = malloc(size ? size : 1);
    if (!mem) {
        abort();
    }
    in_palloc = 1;      /* the cleanup's own record comes from the pool */
    apr_pool_cleanup_register(p, mem, free_chunk, apr_pool_cleanup_null);
    in_palloc = 0;
    return mem;
}

/* ---------------------------------------------------------------------- */
/* Invariant checks */

#define REQUIRE(cond, what) \
    do { if (!(cond)) fail_invariant(__LINE__, #cond, (what)); } while (0)

static void fail_invariant(int line, const char *cond, const char *what)
{
    fprintf(stderr, "\nfuzz_core.c:%d: invariant violated: %s\n  %s\n",
            line, cond, what ? what : "");
    abort();
}

/* A strict RFC 8259 syntax check, the oracle for "valid JSON": jansson
 * is not one, as it refuses numbers out of the range of a double or a
 * long long (2e488 is JSON; a browser reads it as Infinity).  Strings must
 * be UTF-8 without raw control characters; escapes must be well-formed. */
typedef struct {
    const unsigned char *s, *end;
    int depth;
} jv_t;

static void jv_ws(jv_t *v)
{
    while (v->s < v->end && (*v->s == ' ' || *v->s == '\t' || *v->s == '\n'
                             || *v->s == '\r')) {
        v->s++;
    }
}

static int jv_lit(jv_t *v, const char *word)
{
    apr_size_t n = strlen(word);

    if ((apr_size_t)(v->end - v->s) < n || memcmp(v->s, word, n) != 0) {
        return 0;
    }
    v->s += n;
    return 1;
}

static int jv_digits(jv_t *v)
{
    const unsigned char *start = v->s;

    while (v->s < v->end && *v->s >= '0' && *v->s <= '9') {
        v->s++;
    }
    return v->s > start;
}

static int jv_number(jv_t *v)
{
    if (v->s < v->end && *v->s == '-') {
        v->s++;
    }
    if (v->s < v->end && *v->s == '0') {
        v->s++;
    }
    else if (!jv_digits(v)) {
        return 0;
    }
    if (v->s < v->end && *v->s == '.') {
        v->s++;
        if (!jv_digits(v)) {
            return 0;
        }
    }
    if (v->s < v->end && (*v->s == 'e' || *v->s == 'E')) {
        v->s++;
        if (v->s < v->end && (*v->s == '+' || *v->s == '-')) {
            v->s++;
        }
        if (!jv_digits(v)) {
            return 0;
        }
    }
    return 1;
}

static int jv_string(jv_t *v)
{
    apr_int64_t n;
    const unsigned char *start;

    if (v->s >= v->end || *v->s != '"') {
        return 0;
    }
    v->s++;
    while (v->s < v->end && *v->s != '"') {
        if (*v->s < 0x20) {
            return 0;
        }
        if (*v->s == '\\') {
            v->s++;
            if (v->s >= v->end) {
                return 0;
            }
            if (*v->s == 'u') {
                int i;
                for (i = 1; i <= 4; i++) {
                    if (v->s + i >= v->end || !apr_isxdigit(v->s[i])) {
                        return 0;
                    }
                }
                v->s += 5;
            }
            else if (strchr("\"\\/bfnrt", *v->s) && *v->s) {
                v->s++;
            }
            else {
                return 0;
            }
            continue;
        }
        start = v->s;
        while (v->s < v->end && *v->s >= 0x80) {
            v->s++;
        }
        if (v->s > start) {
            n = tb_utf8_length((const char *)start, v->s - start);
            if (n < 0) {
                return 0;
            }
        }
        else {
            v->s++;
        }
    }
    if (v->s >= v->end) {
        return 0;
    }
    v->s++;
    return 1;
}

static int jv_value(jv_t *v)
{
    int first = 1;
    unsigned char close;

    jv_ws(v);
    if (v->s >= v->end) {
        return 0;
    }
    switch (*v->s) {
    case '"':
        return jv_string(v);
    case 't':
        return jv_lit(v, "true");
    case 'f':
        return jv_lit(v, "false");
    case 'n':
        return jv_lit(v, "null");
    case '[':
    case '{':
        if (++v->depth > 4096) {
            return 0;
        }
        close = (*v->s == '[') ? ']' : '}';
        v->s++;
        for (;;) {
            jv_ws(v);
            if (v->s < v->end && *v->s == close && first) {
                break;
            }
            if (!first) {
                if (v->s >= v->end || *v->s != ',') {
                    break;
                }
                v->s++;
                jv_ws(v);
            }
            first = 0;
            if (close == '}') {
                if (!jv_string(v)) {
                    return 0;
                }
                jv_ws(v);
                if (v->s >= v->end || *v->s != ':') {
                    return 0;
                }
                v->s++;
            }
            if (!jv_value(v)) {
                return 0;
            }
        }
        jv_ws(v);
        if (v->s >= v->end || *v->s != close) {
            return 0;
        }
        v->s++;
        v->depth--;
        return 1;
    default:
        return jv_number(v);
    }
}

/* 1 when buf[0..len) is one complete JSON text (any value at the top). */
static int valid_json(const char *buf, apr_size_t len)
{
    jv_t v;

    v.s = (const unsigned char *)buf;
    v.end = v.s + len;
    v.depth = 0;
    if (!jv_value(&v)) {
        return 0;
    }
    jv_ws(&v);
    return v.s == v.end;
}

static void require_json(int line, const tb_membuf_t *mb, const char *what)
{
    if (!valid_json(mb->buf, mb->len)) {
        fprintf(stderr, "\nfuzz_core.c:%d: %s is not valid JSON:\n%.*s\n",
                line, what, (int)(mb->len > 4000 ? 4000 : mb->len), mb->buf);
        abort();
    }
}
#define REQUIRE_JSON(mb, what) require_json(__LINE__, (mb), (what))

static void writer_open(apr_pool_t *p, tb_membuf_t *mb, tb_jw_t *jw)
{
    tb_membuf_init(mb, p);
    tb_jw_init(jw, tb_membuf_sink, mb);
}

static void writer_close(tb_jw_t *jw)
{
    REQUIRE(tb_jw_flush(jw) == 0, "the memory sink never fails");
}

/* The error body that tb_send_error sends. */
static void check_error_body(apr_pool_t *p, const char *type,
                             const char *request_id, const char *message,
                             int status, const tb_sync_t *invalid)
{
    tb_membuf_t mb;
    tb_jw_t jw;

    writer_open(p, &mb, &jw);
    tb_write_error(&jw, type, request_id, message, status, invalid);
    writer_close(&jw);
    REQUIRE_JSON(&mb, "the error response");
}

static void check_request_id(const char *request_id)
{
    if (request_id) {
        REQUIRE(valid_json(request_id, strlen(request_id)),
                request_id);
    }
}

/* "\"key\":value" must make an object member. */
static void check_key_json(apr_pool_t *p, const char *key_json)
{
    const char *obj;

    REQUIRE(key_json != NULL, "a record without key_json");
    obj = apr_pstrcat(p, "{", key_json, "}", NULL);
    REQUIRE(valid_json(obj, strlen(obj)), key_json);
}

/* ---------------------------------------------------------------------- */
/* Load */

static void fuzz_load(apr_pool_t *p, const char *text, apr_size_t len,
                      unsigned ok_bit)
{
    tb_load_request_t req;
    const char *msg;
    int i, last = -1, j;

    msg = tb_load_request_parse(p, text, len, served, &req);
    if (verbose) {
        fprintf(stderr, "load: %s\n", msg ? msg : apr_psprintf(p, "ok, %d "
                "stores", req.stores->nelts));
    }
    check_request_id(req.request_id);
    if (msg) {
        check_error_body(p, "load", req.request_id, msg, 400, NULL);
        return;
    }
    accepted |= ok_bit;
    REQUIRE(req.stores != NULL, "no store list");
    if (len == 0) {
        REQUIRE(req.stores->nelts == served->nelts,
                "an empty package means every store");
    }
    for (i = 0; i < req.stores->nelts; i++) {
        tb_store_request_t *sr = &APR_ARRAY_IDX(req.stores, i,
                                                tb_store_request_t);
        for (j = 0; j < served->nelts; j++) {
            if (APR_ARRAY_IDX(served, j, const tb_store_t *) == sr->store) {
                break;
            }
        }
        REQUIRE(j < served->nelts, "a store that is not served");
        REQUIRE(j > last, "stores out of configured order, or twice");
        last = j;
        if (sr->page || sr->page_size) {
            REQUIRE(sr->page >= 1 && sr->page <= TB_PAGE_MAX
                    && sr->page_size >= 1 && sr->page_size <= TB_PAGE_MAX,
                    "paging out of range");
        }
    }
}

/* ---------------------------------------------------------------------- */
/* Sync */

static int store_index(const tb_sync_t *s, const char *store_id)
{
    int i;

    for (i = 0; i < s->changes->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(s->changes, i, tb_changes_t *)->store->id,
                   store_id) == 0) {
            return i;
        }
    }
    return -1;
}

/* The index of the first of records[0..n) with that id, or -1. */
static int id_index(const apr_array_header_t *records, int n, const char *id)
{
    int i;

    for (i = 0; i < n; i++) {
        if (strcmp(APR_ARRAY_IDX(records, i, tb_record_t *)->id, id) == 0) {
            return i;
        }
    }
    return -1;
}

static int frac_digits(const char *sql)
{
    const char *dot = strchr(sql, '.');

    return dot ? (int)strlen(dot + 1) : 0;
}

/* A value the module would write for a field: it passes the field's own
 * checks, the database handing it back unchanged is recognised as equal,
 * and a load writes it as JSON that a later sync reads back as the same
 * value. */
static void check_value(apr_pool_t *p, const tb_field_t *f, const char *v)
{
    tb_membuf_t mb;
    tb_jw_t jw;
    json_t *j;
    const char *msg, *again = NULL;

    msg = tb_field_check_text(p, f, v);
    REQUIRE(msg == NULL, apr_psprintf(p, "%s = '%s': %s", f->name, v, msg));
    REQUIRE(tb_db_value_equal(f->type, v, v),
            apr_psprintf(p, "%s = '%s' is not equal to itself", f->name, v));

    writer_open(p, &mb, &jw);
    REQUIRE(tb_write_db_value(&jw, f->type, v) == 0,
            apr_psprintf(p, "%s = '%s' does not fit its own type (%s)",
                         f->name, v, tb_type_name(f->type)));
    writer_close(&jw);
    REQUIRE_JSON(&mb, apr_psprintf(p, "load of %s = '%s'", f->name, v));

    /* Loaded and sent back unchanged: the same value (datetimes go out
     * with milliseconds, so finer fractions are cut by design). */
    if (f->type == TB_TYPE_DATETIME && frac_digits(v) > 3) {
        return;
    }
    j = json_loadb(mb.buf, mb.len, JSON_DECODE_ANY, NULL);
    REQUIRE(j != NULL, mb.buf);
    /* a string value points into j: compared before j goes */
    msg = tb_client_value(p, f, j, &again);
    REQUIRE(msg == NULL, apr_psprintf(p, "%s: '%s' loaded as %s is refused "
                                      "when sent back: %s", f->name, v,
                                      mb.buf, msg));
    REQUIRE(tb_db_value_equal(f->type, v, again),
            apr_psprintf(p, "%s: '%s' loaded as %s comes back as '%s'",
                         f->name, v, mb.buf, again ? again : "(null)"));
    json_decref(j);
}

static void check_record(apr_pool_t *p, const tb_sync_t *s,
                         const tb_changes_t *ch, const tb_record_t *rec,
                         int added, int pos)
{
    const tb_store_t *store = ch->store;
    int i, k;

    check_key_json(p, rec->key_json);
    if (added) {
        REQUIRE(rec->phantom && *rec->phantom
                && strlen(rec->phantom) <= FUZZ_MAX_PHANTOM,
                "an added record's phantom id");
        REQUIRE(tb_sync_phantom(s, store->id, rec->phantom) == rec,
                rec->phantom);
        if (store->id_kind == TB_ID_STRING) {
            REQUIRE(rec->id && *rec->id, "a string-id record without id");
        }
    }
    else {
        REQUIRE(rec->id != NULL, "an updated or removed record without id");
        if (store->id_kind == TB_ID_AUTO) {
            REQUIRE(tb_parse_int64(rec->id, NULL), rec->id);
        }
        else {
            REQUIRE(*rec->id, "an empty string id");
        }
    }
    if (!rec->values) {
        REQUIRE(!added, "an added record without values");
        return;         /* removed */
    }
    for (i = 0; i < store->fields->nelts; i++) {
        const tb_field_t *f = APR_ARRAY_IDX(store->fields, i,
                                            const tb_field_t *);
        const char *ref = rec->phantom_refs[i], *v = rec->values[i];

        if (f->readonly) {
            REQUIRE(!v && !ref && !rec->sent[i], f->name);
            continue;
        }
        if (ref) {
            const tb_record_t *target;
            REQUIRE(f->references != NULL, "a phantom ref on a plain field");
            REQUIRE(v == NULL, "a phantom ref with a value");
            REQUIRE(rec->sent[i], "a phantom ref not marked as sent");
            target = tb_sync_phantom(s, f->references, ref);
            REQUIRE(target != NULL, ref);
            if (strcmp(f->references, store->id) == 0) {
                /* a tree parent is inserted before its children (the
                 * updates of a store come after all of its inserts) */
                if (!added) {
                    continue;
                }
                for (k = 0; k < pos; k++) {
                    if (APR_ARRAY_IDX(ch->added, k, tb_record_t *)
                        == target) {
                        break;
                    }
                }
                REQUIRE(k < pos, apr_psprintf(p, "'%s' comes before its "
                                              "parent '%s'", rec->phantom,
                                              ref));
            }
            else {
                REQUIRE(store_index(s, f->references)
                        < store_index(s, store->id),
                        "a referenced store after its referrer");
            }
            continue;
        }
        if (f->required && (added || rec->sent[i])) {
            REQUIRE(v && *v, apr_psprintf(p, "required %s is empty",
                                          f->name));
        }
        if (v) {
            REQUIRE(rec->sent[i], "a value not marked as sent");
            check_value(p, f, v);
        }
    }
}

static void check_sync_ok(apr_pool_t *p, const tb_sync_t *s)
{
    tb_membuf_t mb;
    tb_jw_t jw;
    int i, j, total = 0;

    REQUIRE(s->invalid->nelts == 0, "success with invalid entries");
    REQUIRE(s->changes->nelts == served->nelts + (s->conf->project ? 1 : 0),
            "a store without changes");
    REQUIRE(s->nrecords <= FUZZ_MAX_RECORDS, "max_records not enforced");
    for (i = 0; i < s->changes->nelts; i++) {
        tb_changes_t *ch = APR_ARRAY_IDX(s->changes, i, tb_changes_t *);

        REQUIRE(store_index(s, ch->store->id) == i, "a store twice");
        /* parents first: every store another one refers to comes first */
        for (j = 0; j < ch->store->fields->nelts; j++) {
            const tb_field_t *f = APR_ARRAY_IDX(ch->store->fields, j,
                                                const tb_field_t *);
            if (f->references && strcmp(f->references, ch->store->id)) {
                REQUIRE(store_index(s, f->references) < i, f->name);
            }
        }
        total += ch->added->nelts + ch->updated->nelts + ch->removed->nelts;
        for (j = 0; j < ch->added->nelts; j++) {
            check_record(p, s, ch, APR_ARRAY_IDX(ch->added, j, tb_record_t *),
                         1, j);
        }
        for (j = 0; j < ch->updated->nelts; j++) {
            tb_record_t *rec = APR_ARRAY_IDX(ch->updated, j, tb_record_t *);
            check_record(p, s, ch, rec, 0, j);
            REQUIRE(id_index(ch->updated, j, rec->id) < 0,
                    "a record updated twice");
        }
        for (j = 0; j < ch->removed->nelts; j++) {
            tb_record_t *rec = APR_ARRAY_IDX(ch->removed, j, tb_record_t *);
            check_record(p, s, ch, rec, 0, j);
            REQUIRE(id_index(ch->removed, j, rec->id) < 0,
                    "a record removed twice");
            REQUIRE(id_index(ch->updated, ch->updated->nelts, rec->id) < 0,
                    "a record updated and removed");
        }
    }
    REQUIRE(total <= s->nrecords, "more records than counted");

    /* The response of a sync that changed nothing by itself. */
    writer_open(p, &mb, &jw);
    tb_sync_write_response(&jw, s);
    writer_close(&jw);
    REQUIRE_JSON(&mb, "the sync response");
}

static void fuzz_sync_conf(apr_pool_t *p, const tb_sync_conf_t *conf,
                           const char *text, apr_size_t len, unsigned ok_bit)
{
    tb_sync_t *s = NULL;
    tb_sync_error_t err;
    int rv, i;

    rv = tb_sync_parse(p, conf, text, len, &s, &err);
    if (verbose) {
        fprintf(stderr, "sync: %d %s (%d records, %d invalid)\n", rv,
                rv ? err.message : "ok", s->nrecords, s->invalid->nelts);
    }
    REQUIRE(s != NULL, "no sync");
    REQUIRE(rv == 0 || rv == 400 || rv == 422,
            apr_psprintf(p, "status %d", rv));
    check_request_id(s->request_id);
    if (len > 0) {
        REQUIRE(s->body_hash && strlen(s->body_hash) == 40, "body hash");
    }
    if (rv == 0) {
        accepted |= ok_bit;
        check_sync_ok(p, s);
        return;
    }
    REQUIRE(err.status == rv && err.message != NULL, "an error without a "
            "message");
    REQUIRE(s->invalid->nelts <= FUZZ_MAX_INVALID, "too many 422 entries");
    if (rv == 422) {
        REQUIRE(s->invalid->nelts > 0, "422 without entries");
    }
    for (i = 0; i < s->invalid->nelts; i++) {
        tb_invalid_t *inv = &APR_ARRAY_IDX(s->invalid, i, tb_invalid_t);
        REQUIRE(inv->store && inv->message, "a 422 entry without text");
        check_key_json(p, inv->key_json);
    }
    check_error_body(p, "sync", s->request_id, err.message, rv,
                     rv == 422 ? s : NULL);
    if (rv == 400 && s->invalid->nelts > 0) {
        /* entries gathered before a 400: still writable */
        check_error_body(p, "sync", s->request_id, err.message, rv, s);
    }
}

static void fuzz_sync(apr_pool_t *p, const char *text, apr_size_t len,
                      unsigned ok_bit)
{
    fuzz_sync_conf(p, &sync_conf, text, len, ok_bit);
    fuzz_sync_conf(p, &sync_conf_project, text, len, ok_bit);
}

/* ---------------------------------------------------------------------- */
/* Form and query strings */

static void fuzz_form(apr_pool_t *p, const char *cstr, apr_size_t len)
{
    apr_size_t vlen = (apr_size_t)-1;
    const char *v = tb_form_value(p, cstr, "data", &vlen);

    if (!v) {
        return;
    }
    REQUIRE(vlen <= len, "a decoded value longer than its query");
    REQUIRE(v[vlen] == '\0', "a decoded value not NUL-terminated");
    fuzz_load(p, v, vlen, ACC_FORM_LOAD);
    fuzz_sync(p, v, vlen, ACC_FORM_SYNC);
}

/* ---------------------------------------------------------------------- */
/* Request headers and the board: Last-Event-ID, Origin, TaskBoardScope */

static apr_array_header_t *allow_origins;   /* TaskBoardAllowOrigin */
static tb_scope_t scope_int, scope_string;

static int all_digits(const char *s)
{
    if (!*s) {
        return 0;
    }
    for (; *s; s++) {
        if (*s < '0' || *s > '9') {
            return 0;
        }
    }
    return 1;
}

static void fuzz_last_event_id(const char *cstr)
{
    static const apr_int64_t currents[] = {0, 1000, APR_INT64_MAX};
    apr_size_t i;

    for (i = 0; i < sizeof(currents) / sizeof(currents[0]); i++) {
        apr_int64_t last = -1;
        if (!tb_last_event_id(cstr, currents[i], &last)) {
            REQUIRE(last == -1, "last set for a new stream");
            continue;
        }
        if (currents[i] == APR_INT64_MAX) {
            accepted |= ACC_LAST_EVENT_ID;
        }
        /* a revision written in decimal (a "-0" aside), within the board */
        REQUIRE(last >= 0 && last <= currents[i], cstr);
        REQUIRE(all_digits(cstr[0] == '-' ? cstr + 1 : cstr), cstr);
        REQUIRE(cstr[0] != '-' || last == 0, cstr);
        REQUIRE(strtoll(cstr, NULL, 10) == last, cstr);
    }
}

static void fuzz_origin(apr_pool_t *p, const char *cstr)
{
    const char *allowed = tb_origin_allowed(allow_origins, cstr), *origin,
               *again, *msg;
    int i, listed = 0;

    for (i = 0; i < allow_origins->nelts; i++) {
        const char *entry = APR_ARRAY_IDX(allow_origins, i, const char *);
        listed |= allowed == entry;
    }
    REQUIRE(!allowed || (listed && strcasecmp(allowed, cstr) == 0), cstr);
    if (allowed) {
        accepted |= ACC_ORIGIN;
    }

    /* TaskBoardAllowOrigin's parser, on the same bytes: what it keeps is
     * its own normal form, and a browser sending exactly that is let in */
    msg = tb_origin_normalize(p, cstr, &origin);
    REQUIRE((msg == NULL) == (origin != NULL), cstr);
    if (!origin) {
        return;
    }
    accepted |= ACC_ORIGIN_CONF;
    REQUIRE(tb_origin_normalize(p, origin, &again) == NULL
            && strcmp(again, origin) == 0,
            apr_psprintf(p, "'%s' -> '%s' -> '%s'", cstr, origin,
                         again ? again : "(refused)"));
    /* scheme://host[:port], nothing after it, never longer than given */
    REQUIRE(strlen(origin) <= strlen(cstr) && strstr(origin, "://")
            && !strpbrk(strstr(origin, "://") + 3, "/?#@ "), origin);
    for (i = 0; origin[i]; i++) {
        REQUIRE(!apr_isupper(origin[i]), origin);
    }
    if (strcasecmp(origin, "http://localhost:5173") == 0
        || strcasecmp(origin, "https://board.example.com") == 0) {
        REQUIRE(tb_origin_allowed(allow_origins, origin) != NULL, origin);
    }
}

static void fuzz_board(apr_pool_t *p, const char *cstr, apr_size_t len)
{
    apr_size_t vlen = 0;
    const char *raw = tb_form_value(p, cstr, "board", &vlen), *msg;
    const tb_scope_t *scopes[] = {&scope_int, &scope_string};
    int i;

    (void)len;
    if (!raw) {
        raw = cstr;
    }
    else if (strlen(raw) != vlen) {
        return;                 /* a %00: refused by the handler first */
    }
    for (i = 0; i < 2; i++) {
        const char *board = tb_scope_value(p, scopes[i], raw, &msg), *again;
        if (!board) {
            REQUIRE(msg && *msg, "a board refused without a message");
            continue;
        }
        accepted |= scopes[i]->type == TB_TYPE_INT ? ACC_BOARD_INT
                                                   : ACC_BOARD_STRING;
        /* one board, one spelling: the canonical text is its own */
        again = tb_scope_value(p, scopes[i], board, &msg);
        REQUIRE(again && strcmp(again, board) == 0,
                apr_psprintf(p, "board '%s' -> '%s' -> '%s'", raw, board,
                             again ? again : "(refused)"));
        REQUIRE(tb_utf8_length(board, strlen(board)) >= 0, board);
        if (scopes[i]->type == TB_TYPE_INT) {
            REQUIRE(tb_parse_int64(board, NULL), board);
        }
    }
}

static void fuzz_headers(apr_pool_t *p, const char *cstr, apr_size_t len)
{
    fuzz_last_event_id(cstr);
    fuzz_origin(p, cstr);
    fuzz_board(p, cstr, len);
}

/* ---------------------------------------------------------------------- */
/* Dates */

static int digits(const char *s, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }
    return 1;
}

static void fuzz_dates(apr_pool_t *p, const char *cstr)
{
    const char *d = tb_date_normalize(p, cstr), *t, *again;
    apr_size_t n;

    if (d) {
        /* fixed width: the only valid text is the normalised one */
        REQUIRE(strcmp(d, cstr) == 0, d);
        t = tb_datetime_to_utc_sql(p, cstr);
        REQUIRE(t && strcmp(t, apr_pstrcat(p, d, " 00:00:00", NULL)) == 0,
                "a date that is not a datetime at midnight");
    }
    t = tb_datetime_to_utc_sql(p, cstr);
    if (!t) {
        return;
    }
    /* YYYY-MM-DD HH:MM:SS[.f{1,6}] */
    n = strlen(t);
    REQUIRE(n == 19 || (n >= 21 && n <= 26 && t[19] == '.'
                        && digits(t + 20, (int)n - 20)), t);
    REQUIRE(digits(t, 4) && t[4] == '-' && digits(t + 5, 2) && t[7] == '-'
            && digits(t + 8, 2) && t[10] == ' ' && digits(t + 11, 2)
            && t[13] == ':' && digits(t + 14, 2) && t[16] == ':'
            && digits(t + 17, 2), t);
    REQUIRE(tb_date_normalize(p, apr_pstrndup(p, t, 10)) != NULL,
            apr_psprintf(p, "'%s' gives the invalid date '%s'", cstr, t));
    REQUIRE(memcmp(t + 11, "24", 2) < 0 && memcmp(t + 14, "60", 2) < 0
            && memcmp(t + 17, "60", 2) < 0, t);
    /* UTC in, the same out */
    again = tb_datetime_to_utc_sql(p, t);
    REQUIRE(again && strcmp(again, t) == 0,
            apr_psprintf(p, "'%s' -> '%s' -> '%s'", cstr, t,
                         again ? again : "(null)"));
    again = tb_datetime_to_utc_sql(p, apr_pstrcat(p, t, "Z", NULL));
    REQUIRE(again && strcmp(again, t) == 0, t);
}

/* ---------------------------------------------------------------------- */
/* The JSON writer */

static void fuzz_writer(apr_pool_t *p, const char *data, apr_size_t len)
{
    tb_membuf_t mb;
    tb_jw_t jw;
    json_t *j, *direct;
    apr_int64_t chars = tb_utf8_length(data, len), count = 0;
    apr_size_t i;

    /* tb_utf8_length agrees with jansson's own UTF-8 check */
    direct = json_stringn(data, len);
    REQUIRE((chars >= 0) == (direct != NULL),
            chars >= 0 ? "valid UTF-8 that jansson refuses"
                       : "invalid UTF-8 that jansson accepts");
    json_decref(direct);
    if (chars >= 0) {
        for (i = 0; i < len; i++) {
            count += ((unsigned char)data[i] & 0xC0) != 0x80;
        }
        REQUIRE(count == chars, "tb_utf8_length miscounts");
    }

    writer_open(p, &mb, &jw);
    tb_jw_string(&jw, data, len);
    writer_close(&jw);
    j = json_loadb(mb.buf, mb.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (!j) {
        REQUIRE_JSON(&mb, "tb_jw_string's output");
        REQUIRE(0, "jansson refuses tb_jw_string's output");
    }
    REQUIRE(json_is_string(j), "tb_jw_string wrote something else");
    if (chars >= 0) {
        REQUIRE(json_string_length(j) == len
                && memcmp(json_string_value(j), data, len) == 0,
                "tb_jw_string does not round-trip valid UTF-8");
    }
    else {
        REQUIRE(memmem(json_string_value(j), json_string_length(j),
                       "\xEF\xBF\xBD", 3) != NULL,
                "invalid UTF-8 written without U+FFFD");
    }
    json_decref(j);

    /* Three times over in one string: runs longer than the writer's
     * buffer (TB_JW_BUFFER) go straight through to the sink. */
    if (len > 0 && len * 3 > TB_JW_BUFFER / 2) {
        char *big = malloc(len * 3);
        if (!big) {
            abort();
        }
        for (i = 0; i < 3; i++) {
            memcpy(big + i * len, data, len);
        }
        writer_open(p, &mb, &jw);
        tb_jw_cstr(&jw, "[");
        tb_jw_string(&jw, data, len);
        tb_jw_cstr(&jw, ",");
        tb_jw_string(&jw, big, len * 3);
        tb_jw_cstr(&jw, "]");
        writer_close(&jw);
        REQUIRE_JSON(&mb, "tb_jw_string's output, tripled");
        if (chars >= 0) {
            j = json_loadb(mb.buf, mb.len, JSON_ALLOW_NUL, NULL);
            REQUIRE(j && json_array_size(j) == 2, "tripled: not read back");
            REQUIRE(json_string_length(json_array_get(j, 1)) == len * 3
                    && memcmp(json_string_value(json_array_get(j, 1)), big,
                              len * 3) == 0,
                    "tb_jw_string does not round-trip a long string");
            json_decref(j);
        }
        free(big);
    }
}

/* The input as text the database returned for a column of each type: the
 * output is valid JSON (a fallback string when it does not fit; see
 * crashers/db_datetime_*). */
static void fuzz_db_text(apr_pool_t *p, const char *cstr)
{
    static const tb_type_e types[] = {
        TB_TYPE_INT, TB_TYPE_NUMBER, TB_TYPE_STRING, TB_TYPE_TEXT,
        TB_TYPE_BOOLEAN, TB_TYPE_DATE, TB_TYPE_DATETIME, TB_TYPE_JSON
    };
    apr_size_t i;

    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        tb_membuf_t mb;
        tb_jw_t jw;

        writer_open(p, &mb, &jw);
        tb_write_db_value(&jw, types[i], cstr);
        writer_close(&jw);
        REQUIRE_JSON(&mb, apr_psprintf(p, "tb_write_db_value(%s)",
                                       tb_type_name(types[i])));
        writer_open(p, &mb, &jw);
        REQUIRE(tb_write_db_value(&jw, types[i], NULL) == 0, "SQL NULL");
        writer_close(&jw);
        REQUIRE(mb.len == 4 && memcmp(mb.buf, "null", 4) == 0, "SQL NULL");
        (void)tb_db_value_equal(types[i], cstr, "2024-03-05 10:30:00");
        REQUIRE(tb_db_value_equal(types[i], NULL, cstr) == 0, "NULL = text");
    }
}

/* ---------------------------------------------------------------------- */
/* The mapping: conf/taskboard.conf's board, with every option in use */

typedef struct {
    const char *name;
    tb_type_e type;
    const char *column;
    const char *def;
    int required, readonly;
    apr_int64_t maxlength;
    const char *min, *max;
    const char *values;
    const char *references;
} fdef_t;

static tb_store_t *make_store(apr_pool_t *p, const char *id, int string_id,
                              const char *order, const fdef_t *defs)
{
    tb_store_t *store = tb_store_create(p, id);
    tb_order_t *o;
    const char *msg;

    if (string_id) {
        store->id_kind = TB_ID_STRING;
        store->id_field.type = TB_TYPE_STRING;
    }
    if (order) {
        o = apr_array_push(store->order);
        o->column = order;
        o->descending = 0;
    }
    o = apr_array_push(store->order);
    o->column = store->id_field.column;
    o->descending = 0;

    for (; defs->name; defs++) {
        tb_field_t *f = apr_pcalloc(p, sizeof(*f));
        f->name = defs->name;
        f->column = defs->column ? defs->column : defs->name;
        f->type = defs->type;
        f->default_value = defs->def;
        f->required = defs->required;
        f->readonly = defs->readonly;
        f->max_length = defs->maxlength;
        if (defs->min) {
            f->has_min = 1;
            f->min = strtod(defs->min, NULL);
        }
        if (defs->max) {
            f->has_max = 1;
            f->max = strtod(defs->max, NULL);
        }
        if (defs->values) {
            char *list = apr_pstrdup(p, defs->values), *last, *item;
            f->allowed = apr_array_make(p, 4, sizeof(char *));
            for (item = apr_strtok(list, ",", &last); item;
                 item = apr_strtok(NULL, ",", &last)) {
                APR_ARRAY_PUSH(f->allowed, const char *) = item;
            }
        }
        f->references = defs->references;
        f->json_key = apr_pstrcat(p, tb_json_quote(p, f->name), ":", NULL);
        f->defn_file = "fuzz_core.c";
        f->defn_line = __LINE__;
        /* what the configuration reader checks (check_field) */
        if (f->default_value
            && (msg = tb_field_check_text(p, f, f->default_value))) {
            fprintf(stderr, "fuzz_core: bad default of %s.%s: %s\n", id,
                    f->name, msg);
            abort();
        }
        APR_ARRAY_PUSH(store->fields, tb_field_t *) = f;
    }
    tb_sql_build_store(p, store);
    return store;
}

static const fdef_t task_fields[] = {
    {"name", TB_TYPE_STRING, NULL, "New task", 1, 0, 255, 0, 0, 0, 0},
    {"description", TB_TYPE_TEXT, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {"status", TB_TYPE_STRING, 0, "todo", 1, 0, 50, 0, 0,
     "todo,doing,review,done", 0},
    {"prio", TB_TYPE_STRING, 0, 0, 0, 0, 20, 0, 0, "high,medium,low", 0},
    {"weight", TB_TYPE_INT, 0, "0", 0, 0, 0, "-1000000", "1000000", 0, 0},
    {"deadline", TB_TYPE_DATE, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {"startDate", TB_TYPE_DATETIME, "start_date",
     "2024-01-01T09:00:00+01:00", 0, 0, 0, 0, 0, 0, 0},
    {"endDate", TB_TYPE_DATETIME, "end_date", 0, 0, 0, 0, 0, 0, 0, 0},
    {"eventColor", TB_TYPE_STRING, "event_color", 0, 0, 0, 50, 0, 0, 0, 0},
    {"readOnly", TB_TYPE_BOOLEAN, "read_only", "false", 0, 0, 0, 0, 0, 0, 0},
    {"percentDone", TB_TYPE_NUMBER, "percent_done", "0", 0, 0, 0, "0", "100",
     0, 0},
    {"parentId", TB_TYPE_INT, "parent_id", 0, 0, 0, 0, 0, 0, 0, "tasks"},
    {"columnId", TB_TYPE_STRING, "column_id", 0, 0, 0, 50, 0, 0, 0,
     "columns"},
    {"meta", TB_TYPE_JSON, 0, 0, 0, 0, 500, 0, 0, 0, 0},
    {"created", TB_TYPE_DATETIME, 0, 0, 0, 1, 0, 0, 0, 0, 0},
    {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
};

static const fdef_t resource_fields[] = {
    {"name", TB_TYPE_STRING, 0, 0, 1, 0, 100, 0, 0, 0, 0},
    {"email", TB_TYPE_STRING, 0, 0, 0, 0, 255, 0, 0, 0, 0},
    {"image", TB_TYPE_STRING, 0, 0, 0, 0, 255, 0, 0, 0, 0},
    {"role", TB_TYPE_STRING, 0, "member", 0, 0, 50, 0, 0, 0, 0},
    {"active", TB_TYPE_BOOLEAN, 0, "true", 0, 0, 0, 0, 0, 0, 0},
    {"level", TB_TYPE_INT, 0, 0, 0, 0, 0, 0, 0, "1,2,3", 0},
    {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
};

static const fdef_t assignment_fields[] = {
    {"eventId", TB_TYPE_INT, "event", 0, 1, 0, 0, 0, 0, 0, "tasks"},
    {"resourceId", TB_TYPE_INT, "resource", 0, 1, 0, 0, 0, 0, 0,
     "resources"},
    {"units", TB_TYPE_NUMBER, 0, "100", 0, 0, 0, "0", "100", 0, 0},
    {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
};

static const fdef_t project_fields[] = {
    {"calendar", TB_TYPE_STRING, 0, 0, 0, 0, 50, 0, 0, 0, 0},
    {"startDate", TB_TYPE_DATE, "start_date", 0, 1, 0, 0, 0, 0, 0, 0},
    {"hoursPerDay", TB_TYPE_INT, "hours_per_day", 0, 0, 0, 0, "1", "24", 0,
     0},
    {"version", TB_TYPE_INT, 0, 0, 0, 1, 0, 0, 0, 0, 0},
    {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
};

static const fdef_t column_fields[] = {
    {"text", TB_TYPE_STRING, 0, 0, 1, 0, 100, 0, 0, 0, 0},
    {"color", TB_TYPE_STRING, 0, 0, 0, 0, 50, 0, 0, 0, 0},
    {"collapsed", TB_TYPE_BOOLEAN, 0, "0", 0, 0, 0, 0, 0, 0, 0},
    {"weight", TB_TYPE_INT, 0, "0", 0, 0, 0, 0, 0, 0, 0},
    {"tasksLimit", TB_TYPE_NUMBER, "tasks_limit", 0, 0, 0, 0, "0", 0,
     "5,10,20.5", 0},
    {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    apr_array_header_t *ignored;
    const char *env;
    (void)argc;
    (void)argv;

    if (apr_initialize() != APR_SUCCESS
        || apr_pool_create(&root, NULL) != APR_SUCCESS) {
        abort();
    }
    env = getenv("TB_FUZZ_POOL_MALLOC");
    pool_malloc = !(env && strcmp(env, "0") == 0);
    env = getenv("TB_FUZZ_VERBOSE");
    verbose = env && strcmp(env, "1") == 0;
    env = getenv("TB_FUZZ_EXPECT");
    if (env && *env) {
        char *list = strdup(env), *item, *last;
        for (item = apr_strtok(list, ",", &last); item;
             item = apr_strtok(NULL, ",", &last)) {
            apr_size_t i;
            for (i = 0; i < sizeof(acc_names) / sizeof(acc_names[0]); i++) {
                if (strcmp(item, acc_names[i].name) == 0) {
                    expected |= acc_names[i].bit;
                    break;
                }
            }
            if (i == sizeof(acc_names) / sizeof(acc_names[0])) {
                fprintf(stderr, "fuzz_core: TB_FUZZ_EXPECT: unknown kind "
                        "'%s'\n", item);
                abort();
            }
        }
        free(list);
    }

    /* conf/taskboard.conf's order: tasks, resources, assignments, columns
     * (the sync puts columns before tasks, resources before assignments) */
    served = apr_array_make(root, 4, sizeof(tb_store_t *));
    APR_ARRAY_PUSH(served, tb_store_t *) =
        make_store(root, "tasks", 0, "weight", task_fields);
    APR_ARRAY_PUSH(served, tb_store_t *) =
        make_store(root, "resources", 0, NULL, resource_fields);
    APR_ARRAY_PUSH(served, tb_store_t *) =
        make_store(root, "assignments", 0, NULL, assignment_fields);
    APR_ARRAY_PUSH(served, tb_store_t *) =
        make_store(root, "columns", 1, "weight", column_fields);

    ignored = apr_array_make(root, 2, sizeof(char *));
    APR_ARRAY_PUSH(ignored, const char *) = "project";
    APR_ARRAY_PUSH(ignored, const char *) = "calendars";

    allow_origins = apr_array_make(root, 2, sizeof(const char *));
    APR_ARRAY_PUSH(allow_origins, const char *) = "http://localhost:5173";
    APR_ARRAY_PUSH(allow_origins, const char *) = "https://board.example.com";
    scope_int.column = "board_id";
    scope_int.type = TB_TYPE_INT;
    scope_int.source = TB_SCOPE_PARAM;
    scope_int.name = "board";
    scope_string = scope_int;
    scope_string.column = "board_key";
    scope_string.type = TB_TYPE_STRING;

    memset(&sync_conf, 0, sizeof(sync_conf));
    sync_conf.stores = served;
    sync_conf.conflicts = TB_CONFLICT_REJECT;
    sync_conf.max_records = FUZZ_MAX_RECORDS;
    sync_conf.phantom_field = "$PhantomId";
    sync_conf.phantom_parent_field = "$PhantomParentId";
    sync_conf.ignored = ignored;
    sync_conf_project = sync_conf;
    {
        /* as <TaskBoardProject project> declares it: the table's only row */
        tb_store_t *project = make_store(root, TB_PROJECT_ID, 1, NULL,
                                         project_fields);
        project->is_project = 1;
        project->id_field.column = "";
        project->project_key = "1";
        tb_sql_build_store(root, project);
        sync_conf_project.project = project;
    }

    {
        /* the oracle itself */
        static const char *const good[] = {
            "0", "-0.5e+3", "2e488", "\"\\u00e9\\n\xC3\xA9\"", "[]", "{}",
            " [1, {\"a\": [null, true, false]}] ", "\"\"", NULL
        };
        static const char *const bad[] = {
            "", "01", "1.", "-", "[1,]", "{\"a\"}", "{\"a\":1,}", "\"\x01\"",
            "\"\xC0\x80\"", "\"\\x\"", "\"\\u12\"", "[1] 2", "tru", "\"a",
            "{1:2}", "[", NULL
        };
        int i;
        for (i = 0; good[i]; i++) {
            REQUIRE(valid_json(good[i], strlen(good[i])), good[i]);
        }
        for (i = 0; bad[i]; i++) {
            REQUIRE(!valid_json(bad[i], strlen(bad[i])), bad[i]);
        }
    }

#ifdef TB_FUZZ_ASAN
    if (pool_malloc) {
        /* The interposition reaches apr_pstrdup inside libapr too. */
        apr_pool_t *p;
        char *s;
        apr_pool_create(&p, root);
        tracked = p;
        s = apr_pstrdup(p, "abc");
        tracked = NULL;
        if (!__asan_address_is_poisoned(s + 4)) {
            fprintf(stderr, "fuzz_core: apr_palloc interposition is not "
                    "active: pool overflows go unseen\n");
        }
        apr_pool_destroy(p);
    }
#endif
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    const char *text = (const char *)data;
    char *cstr;

    if (apr_pool_create(&p, root) != APR_SUCCESS) {
        abort();
    }
    tracked = p;

    /* A C string for the functions that take one; it ends at the first
     * NUL byte of the input, as it would in a query string. */
    cstr = malloc(size + 1);
    if (!cstr) {
        abort();
    }
    memcpy(cstr, data, size);
    cstr[size] = '\0';

    accepted = 0;
    fuzz_load(p, text, size, ACC_LOAD);
    fuzz_sync(p, text, size, ACC_SYNC);
    fuzz_form(p, cstr, strlen(cstr));
    fuzz_headers(p, cstr, strlen(cstr));
    fuzz_dates(p, cstr);
    fuzz_writer(p, text, size);
    fuzz_db_text(p, cstr);

    if (expected & ~accepted) {
        apr_size_t i;
        fprintf(stderr, "\nfuzz_core.c: a valid request refused: expected "
                "to be accepted as");
        for (i = 0; i < sizeof(acc_names) / sizeof(acc_names[0]); i++) {
            if (expected & ~accepted & acc_names[i].bit) {
                fprintf(stderr, " %s", acc_names[i].name);
            }
        }
        fprintf(stderr, " (TB_FUZZ_EXPECT; TB_FUZZ_VERBOSE=1 shows why)\n");
        abort();
    }
    free(cstr);
    tracked = NULL;
    apr_pool_destroy(p);
    return 0;
}
