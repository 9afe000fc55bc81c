/* SPDX-License-Identifier: MIT */
/*
 * plan_join.c: which joins the planner may split (dist_int.h; docs/internals/dist.md).
 *
 * A join is split by sharding its biggest input and letting every map read the other inputs
 * whole. That is exact only where the join distributes over a union of the sharded input's
 * parts: Q(B1 u B2) = Q(B1) u Q(B2), as multisets. Walking from the FROM clause's root down to
 * the sharded leaf, every join on the way must be one of
 *   sharded side left:  INNER, CROSS, LEFT (its unmatched rows are its own), SEMI, ANTI, and
 *                       ASOF INNER / LEFT (each left row picks its match from the whole right);
 *   sharded side right: INNER, CROSS, RIGHT.
 * Refused: FULL OUTER and the outer side's mirror (the other side's unmatched rows would come
 * back once per shard), SEMI/ANTI with the sharded side on the right, ASOF with the sharded
 * side on the right (the nearest match depends on every right row), POSITIONAL joins (row
 * positions change with sharding) and LATERAL (dependent) joins.
 * The leaves must all be table function calls (lake names are bound to them before planning);
 * a subquery, VALUES or a DuckDB table as a join input runs unsplit: a subquery with LIMIT or
 * random() could give every map a different "small" table.
 */
#include "core/json.h"
#include "dist/dist_int.h"

#include <string.h>

static const char *collect(json_t *t, json_t **leaves, size_t max, size_t *n)
{
    const char *type = qk_json_str(t, "type");
    if (!strcmp(type, "TABLE_FUNCTION")) {
        if (*n == max) return "too many tables in the join";
        leaves[(*n)++] = t;
        return NULL;
    }
    if (strcmp(type, "JOIN") != 0)
        return "a join input is not a table function or lake table (a subquery, VALUES or a "
               "DuckDB table)";
    {
        const char *why = collect(json_object_get(t, "left"), leaves, max, n);
        return why ? why : collect(json_object_get(t, "right"), leaves, max, n);
    }
}

const char *qk_dist_join_leaves(json_t *from, json_t **leaves, size_t max, size_t *n)
{
    *n = 0;
    return collect(from, leaves, max, n);
}

static bool contains(json_t *t, json_t *leaf)
{
    if (t == leaf) return true;
    if (strcmp(qk_json_str(t, "type"), "JOIN") != 0) return false;
    return contains(json_object_get(t, "left"), leaf) ||
           contains(json_object_get(t, "right"), leaf);
}

/* Does this one join distribute over the sharded side (left or right)? NULL when it does. */
static const char *join_ok(json_t *j, bool sharded_left)
{
    const char *jt = qk_json_str(j, "join_type"), *rt = qk_json_str(j, "ref_type");
    if (!strcmp(rt, "POSITIONAL")) return "a POSITIONAL join";
    if (!strcmp(rt, "DEPENDENT")) return "a LATERAL join";
    if (strcmp(rt, "REGULAR") && strcmp(rt, "NATURAL") && strcmp(rt, "CROSS") && strcmp(rt, "ASOF"))
        return "an unknown join kind";
    if (!strcmp(rt, "ASOF") && !sharded_left)
        return "an ASOF join whose right side is the big table";
    if (!strcmp(jt, "INNER")) return NULL;
    if (sharded_left && (!strcmp(jt, "LEFT") || !strcmp(jt, "SEMI") || !strcmp(jt, "ANTI")))
        return strcmp(rt, "ASOF") || !strcmp(jt, "LEFT") ? NULL : "a SEMI or ANTI ASOF join";
    if (!sharded_left && !strcmp(jt, "RIGHT")) return NULL;
    if (!strcmp(jt, "FULL") || !strcmp(jt, "OUTER")) return "a FULL OUTER join";
    return sharded_left ? "the big table is the left side of a RIGHT join"
                        : "the big table is the right side of a LEFT, SEMI or ANTI join";
}

const char *qk_dist_join_shardable(json_t *from, json_t *leaf)
{
    while (from != leaf) {
        json_t *l = json_object_get(from, "left");
        bool left = contains(l, leaf);
        const char *why = join_ok(from, left);
        if (why) return why;
        from = left ? l : json_object_get(from, "right");
    }
    return NULL;
}
