/* SPDX-License-Identifier: MIT */
/*
 * test_server_metrics.c: the server's metrics (src/server/metrics.c): counters by endpoint and
 * status, errors by type (including the overflow slot), the cumulative latency histogram, the
 * query slots behind 429, the Prometheus text itself, and counting from many threads at once.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/server_int.h"

static char *render(qk_metrics *m)
{
    qk_buf b;
    qk_buf_init(&b, 1 << 20);
    assert_int_equal(qk_metrics_render(m, &b), 0);
    return qk_buf_detach(&b, NULL);
}

static void assert_has(const char *text, const char *line)
{
    if (!strstr(text, line)) fail_msg("metrics lack '%s' in:\n%s", line, text);
}

static void test_requests_are_counted_by_endpoint_and_status(void **state)
{
    qk_metrics m;
    (void)state;
    qk_metrics_init(&m);
    qk_metrics_observe(&m, QK_EP_INVOKE, 200, 0.002, 3, 100, NULL);
    qk_metrics_observe(&m, QK_EP_INVOKE, 200, 0.002, 2, 50, NULL);
    qk_metrics_observe(&m, QK_EP_QUERY, 400, 0.001, 0, 60, "ParserException");
    qk_metrics_observe(&m, QK_EP_OTHER, 418, 0.001, 0, 10, "Teapot");
    char *t = render(&m);
    assert_has(t, "quack_requests_total{endpoint=\"invoke\",status=\"200\"} 2\n");
    assert_has(t, "quack_requests_total{endpoint=\"query\",status=\"400\"} 1\n");
    assert_has(t, "quack_requests_total{endpoint=\"other\",status=\"other\"} 1\n");
    assert_has(t, "quack_errors_total{type=\"ParserException\"} 1\n");
    assert_has(t, "quack_rows_out_total 5\n");
    assert_has(t, "quack_bytes_out_total 220\n");
    assert_has(t, "# TYPE quack_requests_total counter\n");
    free(t);
    qk_metrics_free(&m);
}

static void test_histogram_is_cumulative_with_sum_and_count(void **state)
{
    qk_metrics m;
    (void)state;
    qk_metrics_init(&m);
    qk_metrics_observe(&m, QK_EP_HEALTH, 200, 0.0005, 0, 0, NULL);
    qk_metrics_observe(&m, QK_EP_HEALTH, 200, 0.003, 0, 0, NULL);
    qk_metrics_observe(&m, QK_EP_HEALTH, 200, 20.0, 0, 0, NULL);
    char *t = render(&m);
    assert_has(t, "# TYPE quack_request_duration_seconds histogram\n");
    assert_has(t, "quack_request_duration_seconds_bucket{le=\"0.001\"} 1\n");
    assert_has(t, "quack_request_duration_seconds_bucket{le=\"0.0025\"} 1\n");
    assert_has(t, "quack_request_duration_seconds_bucket{le=\"0.005\"} 2\n");
    assert_has(t, "quack_request_duration_seconds_bucket{le=\"10\"} 2\n");
    assert_has(t, "quack_request_duration_seconds_bucket{le=\"+Inf\"} 3\n");
    assert_has(t, "quack_request_duration_seconds_sum 20.003500\n");
    assert_has(t, "quack_request_duration_seconds_count 3\n");
    free(t);
    qk_metrics_free(&m);
}

static void test_query_slots_stop_at_the_maximum(void **state)
{
    qk_metrics m;
    (void)state;
    qk_metrics_init(&m);
    assert_true(qk_metrics_enter(&m, 2));
    assert_true(qk_metrics_enter(&m, 2));
    assert_false(qk_metrics_enter(&m, 2));
    char *t = render(&m);
    assert_has(t, "# TYPE quack_in_flight gauge\nquack_in_flight 2\n");
    free(t);
    qk_metrics_leave(&m);
    assert_true(qk_metrics_enter(&m, 2));
    qk_metrics_leave(&m);
    qk_metrics_leave(&m);
    assert_int_equal(atomic_load(&m.in_flight), 0);
    qk_metrics_free(&m);
}

static void test_error_types_past_the_table_count_as_other(void **state)
{
    qk_metrics m;
    char name[32];
    (void)state;
    qk_metrics_init(&m);
    for (int i = 0; i < QK_METRICS_ERROR_TYPES + 5; i++) {
        snprintf(name, sizeof name, "Type%d", i);
        qk_metrics_observe(&m, QK_EP_QUERY, 400, 0.001, 0, 0, name);
    }
    qk_metrics_observe(&m, QK_EP_QUERY, 400, 0.001, 0, 0, "Type0");
    char *t = render(&m);
    assert_has(t, "quack_errors_total{type=\"Type0\"} 2\n");
    assert_has(t, "quack_errors_total{type=\"Other\"} 5\n");
    free(t);
    qk_metrics_free(&m);
}

static void test_label_values_are_escaped(void **state)
{
    qk_metrics m;
    (void)state;
    qk_metrics_init(&m);
    qk_metrics_observe(&m, QK_EP_QUERY, 400, 0.001, 0, 0, "a\"b\\c");
    char *t = render(&m);
    assert_has(t, "quack_errors_total{type=\"a\\\"b\\\\c\"} 1\n");
    free(t);
    qk_metrics_free(&m);
}

static void *hammer(void *arg)
{
    qk_metrics *m = arg;
    char name[16];
    for (int i = 0; i < 10000; i++) {
        snprintf(name, sizeof name, "E%d", (i / 2) % 8);
        qk_metrics_observe(m, QK_EP_INVOKE, 200, 0.01, 1, 2, i % 2 ? name : NULL);
    }
    return NULL;
}

static void test_counting_from_many_threads_loses_nothing(void **state)
{
    qk_metrics m;
    pthread_t th[8];
    (void)state;
    qk_metrics_init(&m);
    for (int i = 0; i < 8; i++)
        pthread_create(&th[i], NULL, hammer, &m);
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    char *t = render(&m);
    assert_has(t, "quack_requests_total{endpoint=\"invoke\",status=\"200\"} 80000\n");
    assert_has(t, "quack_rows_out_total 80000\n");
    assert_has(t, "quack_request_duration_seconds_count 80000\n");
    assert_int_equal(atomic_load(&m.error_type_count), 8);
    for (int i = 0; i < 8; i++) {
        char line[64];
        snprintf(line, sizeof line, "quack_errors_total{type=\"E%d\"} 5000\n", i);
        assert_has(t, line);
    }
    free(t);
    qk_metrics_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests_are_counted_by_endpoint_and_status),
        cmocka_unit_test(test_histogram_is_cumulative_with_sum_and_count),
        cmocka_unit_test(test_query_slots_stop_at_the_maximum),
        cmocka_unit_test(test_error_types_past_the_table_count_as_other),
        cmocka_unit_test(test_label_values_are_escaped),
        cmocka_unit_test(test_counting_from_many_threads_loses_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
