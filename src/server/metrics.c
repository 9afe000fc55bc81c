/* SPDX-License-Identifier: MIT */
/*
 * metrics.c: the server's counters and their Prometheus text exposition (format 0.0.4).
 *
 *   quack_requests_total{endpoint,status}   counter   every answered request
 *   quack_errors_total{type}                counter   error replies by errorType
 *   quack_request_duration_seconds          histogram first byte of the request to reply
 *   quack_rows_out_total, quack_bytes_out_total       rows and body bytes sent
 *   quack_queries_total                     counter   statements run on the engine
 *   quack_in_flight                         gauge     statements running now
 *
 * Every number is a C11 atomic updated with relaxed order (they are independent counters).
 * Error types are open-ended (DuckDB's exception names), so they live in a small table: a
 * writer adds a name under a mutex and publishes it by incrementing error_type_count with
 * release order; readers load the count with acquire order and never lock. Past
 * QK_METRICS_ERROR_TYPES names, errors are counted as type "Other".
 */
#include "server/server_int.h"

#include <string.h>

static const int statuses[QK_METRICS_STATUSES - 1] = {200, 400, 401, 404, 405, 413,
                                                      429, 499, 500, 503, 504};
static const double bounds[QK_METRICS_BUCKETS - 1] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                      0.25,  0.5,    1,     2.5,  5,     10};
static const char *endpoint_names[QK_EP_COUNT] = {"invoke", "query",  "health",  "metrics",
                                                  "map",    "tables", "lineage", "other"};

const char *qk_endpoint_name(qk_endpoint ep)
{
    return (unsigned)ep < QK_EP_COUNT ? endpoint_names[ep] : "other";
}

int qk_metrics_init(qk_metrics *m)
{
    memset(m, 0, sizeof *m);
    return pthread_mutex_init(&m->lock, NULL) == 0 ? 0 : QK_EINTERNAL;
}

void qk_metrics_free(qk_metrics *m)
{
    if (m) pthread_mutex_destroy(&m->lock);
}

static int status_index(int status)
{
    for (int i = 0; i < QK_METRICS_STATUSES - 1; i++)
        if (statuses[i] == status) return i;
    return QK_METRICS_STATUSES - 1;
}

static int find_error_type(qk_metrics *m, int n, const char *type)
{
    for (int i = 0; i < n; i++)
        if (strcmp(m->error_types[i], type) == 0) return i;
    return -1;
}

/* Slot for an error type name, adding it if new; QK_METRICS_ERROR_TYPES when full. */
static int error_slot(qk_metrics *m, const char *type)
{
    int n = atomic_load_explicit(&m->error_type_count, memory_order_acquire);
    int i = find_error_type(m, n, type);
    if (i >= 0) return i;
    pthread_mutex_lock(&m->lock);
    n = atomic_load_explicit(&m->error_type_count, memory_order_acquire);
    i = find_error_type(m, n, type);
    if (i < 0 && n < QK_METRICS_ERROR_TYPES) {
        qk_strlcpy(m->error_types[n], type, sizeof m->error_types[n]);
        atomic_store_explicit(&m->error_type_count, n + 1, memory_order_release);
        i = n;
    }
    pthread_mutex_unlock(&m->lock);
    return i < 0 ? QK_METRICS_ERROR_TYPES : i;
}

static void add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

void qk_metrics_observe(qk_metrics *m, qk_endpoint ep, int status, double seconds, uint64_t rows,
                        uint64_t bytes, const char *error_type)
{
    int b = 0;
    if ((unsigned)ep >= QK_EP_COUNT) ep = QK_EP_OTHER;
    add(&m->requests[ep][status_index(status)], 1);
    if (seconds < 0) seconds = 0;
    while (b < QK_METRICS_BUCKETS - 1 && seconds > bounds[b])
        b++;
    add(&m->buckets[b], 1);
    add(&m->duration_us_sum, (uint64_t)(seconds * 1e6 + 0.5));
    add(&m->rows_out, rows);
    add(&m->bytes_out, bytes);
    if (error_type && *error_type) add(&m->errors[error_slot(m, error_type)], 1);
}

bool qk_metrics_enter(qk_metrics *m, int64_t max)
{
    int64_t prev = atomic_fetch_add_explicit(&m->in_flight, 1, memory_order_acq_rel);
    if (prev < max) return true;
    atomic_fetch_sub_explicit(&m->in_flight, 1, memory_order_acq_rel);
    return false;
}

void qk_metrics_leave(qk_metrics *m)
{
    atomic_fetch_sub_explicit(&m->in_flight, 1, memory_order_acq_rel);
}

void qk_metrics_count_query(qk_metrics *m)
{
    add(&m->queries, 1);
}

static uint64_t get(_Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* Label values are escaped as the exposition format asks: backslash, quote, newline. */
static int add_label_value(qk_buf *out, const char *v)
{
    int rc = 0;
    for (; *v && !rc; v++) {
        if (*v == '\\' || *v == '"') rc = qk_buf_addc(out, '\\');
        if (!rc) rc = *v == '\n' ? qk_buf_adds(out, "\\n") : qk_buf_addc(out, *v);
    }
    return rc;
}

static int render_requests(qk_metrics *m, qk_buf *out)
{
    int rc = qk_buf_adds(out, "# HELP quack_requests_total HTTP requests answered, by endpoint "
                              "and status.\n# TYPE quack_requests_total counter\n");
    for (int e = 0; e < QK_EP_COUNT && !rc; e++)
        for (int s = 0; s < QK_METRICS_STATUSES && !rc; s++) {
            uint64_t v = get(&m->requests[e][s]);
            if (!v) continue;
            if (s < QK_METRICS_STATUSES - 1)
                rc =
                    qk_buf_printf(out, "quack_requests_total{endpoint=\"%s\",status=\"%d\"} %llu\n",
                                  endpoint_names[e], statuses[s], (unsigned long long)v);
            else
                rc = qk_buf_printf(out,
                                   "quack_requests_total{endpoint=\"%s\",status=\"other\"} %llu\n",
                                   endpoint_names[e], (unsigned long long)v);
        }
    return rc;
}

static int render_errors(qk_metrics *m, qk_buf *out)
{
    int n = atomic_load_explicit(&m->error_type_count, memory_order_acquire);
    int rc = qk_buf_adds(out, "# HELP quack_errors_total Error replies, by errorType.\n"
                              "# TYPE quack_errors_total counter\n");
    for (int i = 0; i <= QK_METRICS_ERROR_TYPES && !rc; i++) {
        if (i >= n && i < QK_METRICS_ERROR_TYPES) continue;
        uint64_t v = get(&m->errors[i]);
        if (!v) continue;
        rc = qk_buf_adds(out, "quack_errors_total{type=\"");
        if (!rc)
            rc = add_label_value(out, i < QK_METRICS_ERROR_TYPES ? m->error_types[i] : "Other");
        if (!rc) rc = qk_buf_printf(out, "\"} %llu\n", (unsigned long long)v);
    }
    return rc;
}

static int render_histogram(qk_metrics *m, qk_buf *out)
{
    uint64_t cum = 0;
    int rc = qk_buf_adds(out, "# HELP quack_request_duration_seconds Time from a request's "
                              "arrival to its reply.\n"
                              "# TYPE quack_request_duration_seconds histogram\n");
    for (int b = 0; b < QK_METRICS_BUCKETS && !rc; b++) {
        cum += get(&m->buckets[b]);
        if (b < QK_METRICS_BUCKETS - 1)
            rc = qk_buf_printf(out, "quack_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
                               bounds[b], (unsigned long long)cum);
        else
            rc = qk_buf_printf(out, "quack_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
                               (unsigned long long)cum);
    }
    if (!rc)
        rc = qk_buf_printf(out,
                           "quack_request_duration_seconds_sum %.6f\n"
                           "quack_request_duration_seconds_count %llu\n",
                           (double)get(&m->duration_us_sum) / 1e6, (unsigned long long)cum);
    return rc;
}

static int render_simple(qk_buf *out, const char *name, const char *type, const char *help,
                         long long v)
{
    return qk_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %lld\n", name, help, name, type, name,
                         v);
}

int qk_metrics_render(qk_metrics *m, qk_buf *out)
{
    int rc = render_requests(m, out);
    if (!rc) rc = render_errors(m, out);
    if (!rc) rc = render_histogram(m, out);
    if (!rc)
        rc = render_simple(out, "quack_rows_out_total", "counter", "Result rows sent.",
                           (long long)get(&m->rows_out));
    if (!rc)
        rc = render_simple(out, "quack_bytes_out_total", "counter", "Response body bytes sent.",
                           (long long)get(&m->bytes_out));
    if (!rc)
        rc = render_simple(out, "quack_queries_total", "counter",
                           "SQL statements run on the engine.", (long long)get(&m->queries));
    if (!rc)
        rc = render_simple(out, "quack_in_flight", "gauge", "SQL statements running now.",
                           (long long)atomic_load(&m->in_flight));
    return rc;
}
