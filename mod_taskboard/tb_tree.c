/* tb_tree.c: a tree store's rows, nested into "children" as they load.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/*
 * The rows' text lives in one malloc'd buffer (realloc grows a large one
 * in place, by remapping, where a pool would keep every outgrown copy),
 * and each row is a few integers: where its text, id and parent id are,
 * its first child and its next sibling.  The children lists are linked
 * only once every row is read (a child may come before its parent), by a
 * table from id text to row; then one depth-first walk with an explicit
 * stack writes the answer.  Both are freed with the pool.
 */

#include <stdlib.h>
#include <string.h>

#include "tb_tree.h"

#define NO_ROW (-1)
#define NO_PARENT ((apr_size_t)-1)

typedef struct tree_row_t {
    apr_size_t text;            /* offset of its JSON text */
    apr_size_t text_len;
    apr_size_t id;              /* offset of its id, NUL-terminated */
    apr_size_t parent;          /* the same for its parent, or NO_PARENT */
    int first_child;            /* rows, in reading order */
    int next_sibling;
} tree_row_t;

struct tb_tree_t {
    char *buf;                  /* every row's text, id and parent id */
    apr_size_t len, cap;
    apr_size_t row_start;       /* where the row being read begins */
    tree_row_t *rows;
    int nrows, rows_cap;
    int first_root;
    int linked;                 /* the lists are made (tb_tree_write) */
};

/* One level of the walk: the next sibling to look at, and whether the
 * level has written a row yet (for the commas). */
typedef struct walk_level_t {
    int next;
    int wrote;
} walk_level_t;

static apr_status_t free_tree(void *data)
{
    tb_tree_t *tree = data;

    free(tree->buf);
    free(tree->rows);
    tree->buf = NULL;
    tree->rows = NULL;
    return APR_SUCCESS;
}

tb_tree_t *tb_tree_create(apr_pool_t *pool)
{
    tb_tree_t *tree = apr_pcalloc(pool, sizeof(*tree));

    tree->first_root = NO_ROW;
    apr_pool_cleanup_register(pool, tree, free_tree, apr_pool_cleanup_null);
    return tree;
}

static int append(tb_tree_t *tree, const char *bytes, apr_size_t len)
{
    if (tree->len + len > tree->cap) {
        apr_size_t cap = tree->cap ? tree->cap : 65536;
        char *grown;
        while (cap < tree->len + len) {
            cap *= 2;
        }
        if (!(grown = realloc(tree->buf, cap))) {
            return -1;
        }
        tree->buf = grown;
        tree->cap = cap;
    }
    memcpy(tree->buf + tree->len, bytes, len);
    tree->len += len;
    return 0;
}

int tb_tree_sink(void *ctx, const char *buf, apr_size_t len)
{
    return append(ctx, buf, len);
}

int tb_tree_end_row(tb_tree_t *tree, const char *id, const char *parent)
{
    tree_row_t *row;

    if (tree->nrows == tree->rows_cap) {
        int cap = tree->rows_cap ? tree->rows_cap * 2 : 1024;
        tree_row_t *grown = realloc(tree->rows, cap * sizeof(*grown));
        if (!grown) {
            return -1;
        }
        tree->rows = grown;
        tree->rows_cap = cap;
    }
    row = &tree->rows[tree->nrows];
    row->text = tree->row_start;
    row->text_len = tree->len - tree->row_start;
    row->id = tree->len;
    if (append(tree, id ? id : "", strlen(id ? id : "") + 1)) {
        return -1;
    }
    row->parent = parent ? tree->len : NO_PARENT;
    if (parent && append(tree, parent, strlen(parent) + 1)) {
        return -1;
    }
    row->first_child = row->next_sibling = NO_ROW;
    tree->nrows++;
    tree->row_start = tree->len;
    return 0;
}

apr_size_t tb_tree_rows(const tb_tree_t *tree)
{
    return (apr_size_t)tree->nrows;
}

static apr_uint32_t hash_text(const char *s)
{
    apr_uint32_t hash = 2166136261u;      /* FNV-1a */

    for (; *s; s++) {
        hash ^= (unsigned char)*s;
        hash *= 16777619u;
    }
    return hash;
}

/* The row of id text, or NO_ROW; table has mask + 1 slots. */
static int find_row(const tb_tree_t *tree, const int *table,
                    apr_uint32_t mask, const char *id)
{
    apr_uint32_t slot = hash_text(id) & mask;

    for (; table[slot] != NO_ROW; slot = (slot + 1) & mask) {
        if (strcmp(tree->buf + tree->rows[table[slot]].id, id) == 0) {
            return table[slot];
        }
    }
    return NO_ROW;
}

/* Links every row into its parent's children, or into the roots, each
 * list in reading order.  A duplicate id (not a key, then) is found as
 * its first row. */
static int link_rows(tb_tree_t *tree)
{
    apr_uint32_t size = 16, mask, slot;
    int *table, i, parent;

    while (size < (apr_uint32_t)tree->nrows * 2) {
        size *= 2;
    }
    mask = size - 1;
    if (!(table = malloc(size * sizeof(int)))) {
        return -1;
    }
    memset(table, 0xff, size * sizeof(int));    /* NO_ROW everywhere */
    for (i = 0; i < tree->nrows; i++) {
        const char *id = tree->buf + tree->rows[i].id;
        if (find_row(tree, table, mask, id) != NO_ROW) {
            continue;
        }
        for (slot = hash_text(id) & mask; table[slot] != NO_ROW;
             slot = (slot + 1) & mask) {
        }
        table[slot] = i;
    }
    /* backwards, each row put first: the lists end up in reading order */
    for (i = tree->nrows - 1; i >= 0; i--) {
        tree_row_t *row = &tree->rows[i];
        parent = row->parent == NO_PARENT
                 ? NO_ROW
                 : find_row(tree, table, mask, tree->buf + row->parent);
        if (parent == NO_ROW || parent == i) {
            row->next_sibling = tree->first_root;
            tree->first_root = i;
        }
        else {
            row->next_sibling = tree->rows[parent].first_child;
            tree->rows[parent].first_child = i;
        }
    }
    free(table);
    return 0;
}

/* The first row of the list from i that is not written yet. */
static int unwritten(const tb_tree_t *tree, const char *written, int i)
{
    while (i != NO_ROW && written[i]) {
        i = tree->rows[i].next_sibling;
    }
    return i;
}

/* Writes the rows of the list from start (only start itself, unless
 * siblings), each followed by its subtree. */
static void walk(const tb_tree_t *tree, tb_jw_t *jw, char *written,
                 walk_level_t *stack, int start, int siblings, int *wrote)
{
    int depth = 1, i, child;

    stack[0].next = start;
    while (depth > 0) {
        walk_level_t *level = &stack[depth - 1];
        const tree_row_t *row;

        if ((i = unwritten(tree, written, level->next)) == NO_ROW) {
            if (--depth > 0) {
                tb_jw_raw(jw, "]}", 2);     /* its children, its parent */
            }
            continue;
        }
        row = &tree->rows[i];
        level->next = (depth == 1 && !siblings) ? NO_ROW : row->next_sibling;
        if ((*(depth == 1 ? wrote : &level->wrote))++ > 0) {
            tb_jw_raw(jw, ",", 1);
        }
        written[i] = 1;
        tb_jw_raw(jw, tree->buf + row->text, row->text_len);
        if ((child = unwritten(tree, written, row->first_child)) == NO_ROW) {
            tb_jw_raw(jw, "}", 1);
            continue;
        }
        tb_jw_raw(jw, ",\"children\":[", 13);
        stack[depth].next = child;
        stack[depth].wrote = 0;
        depth++;
    }
}

int tb_tree_write(tb_tree_t *tree, tb_jw_t *jw)
{
    char *written;
    walk_level_t *stack;
    int i, wrote = 0;

    if (tree->nrows == 0) {
        return 0;
    }
    if (!tree->linked && link_rows(tree)) {
        return -1;
    }
    tree->linked = 1;
    written = calloc(tree->nrows, 1);
    stack = malloc((tree->nrows + 1) * sizeof(*stack));
    if (!written || !stack) {
        free(written);
        free(stack);
        return -1;
    }
    walk(tree, jw, written, stack, tree->first_root, 1, &wrote);
    /* what no root reaches: cycles of parents */
    for (i = 0; i < tree->nrows; i++) {
        if (!written[i]) {
            walk(tree, jw, written, stack, i, 0, &wrote);
        }
    }
    free(written);
    free(stack);
    return 0;
}
