/* tb_tree.h: a tree store's rows, nested into "children" as they load.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/**
 * @file tb_tree.h
 * @brief Nesting a tree store's rows (TaskBoardTree), independent of
 *        httpd.  The rows are read once, in sibling order, each kept only
 *        as its JSON text in one buffer plus a few integers of index, and
 *        then written depth first, every parent with its "children" array.
 *        Nothing else is built: no object per row, no second copy.
 *
 * Which rows are roots: those whose parent is NULL, is not among the rows
 * (a dangling reference, or a parent outside the board), or is the row
 * itself.  Rows caught in a cycle of parents, which no root reaches, are
 * written as roots too, the first of them in reading order first, so that
 * every row read is in the answer exactly once.  A row with children gets
 * "children":[...]; a row without has no "children" key, which Bryntum's
 * tree stores take for a leaf.
 */

#ifndef TB_TREE_H
#define TB_TREE_H

#include <apr_pools.h>

#include "tb_json.h"

typedef struct tb_tree_t tb_tree_t;

/** A tree to read rows into; its memory is freed with pool. */
tb_tree_t *tb_tree_create(apr_pool_t *pool);

/**
 * A tb_jw sink (ctx: the tree) that takes the JSON text of the row being
 * read: an object without its closing brace ("{\"id\":1,\"name\":\"a\"").
 * @return non-zero when out of memory
 */
int tb_tree_sink(void *ctx, const char *buf, apr_size_t len);

/**
 * Ends the row whose text the sink took: id is its id's text, parent its
 * parent's id text as the database gives it (NULL for none).  Rows must
 * come in sibling order.
 * @return non-zero when out of memory
 */
int tb_tree_end_row(tb_tree_t *tree, const char *id, const char *parent);

/** The number of rows read. */
apr_size_t tb_tree_rows(const tb_tree_t *tree);

/**
 * Writes the rows nested, as the members of a JSON array (no brackets):
 * the roots in reading order, each row closed with "}" after its
 * "children".  Depth costs no stack: a chain of any length is fine.
 * @return non-zero when out of memory
 */
int tb_tree_write(tb_tree_t *tree, tb_jw_t *jw);

#endif /* TB_TREE_H */
