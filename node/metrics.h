/*
 * metrics: counters, gauges and histograms rendered in the Prometheus text
 * format for GET /metrics.
 *
 * A metric is registered once (by name and label set) and kept for the
 * life of the process; updates are atomic, so pool threads may count too.
 * Labels are given pre-formatted: `proto="imap"`.
 */
#ifndef MAILNODE_METRICS_H
#define MAILNODE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "node/lib/nbuf.h"

struct metric;
typedef int64_t (*metric_value_fn)(void *arg);

/* Find or create. Never fails (allocation failure aborts). */
struct metric *metric_counter(const char *name, const char *labels, const char *help);
struct metric *metric_gauge(const char *name, const char *labels, const char *help);
/* A gauge read by calling fn(arg) at render time. */
struct metric *metric_gauge_fn(const char *name, const char *labels, const char *help,
                               metric_value_fn fn, void *arg);
/* bounds: ascending upper bounds (seconds, bytes, ...), n <= 16. */
struct metric *metric_histogram(const char *name, const char *labels, const char *help,
                                const double *bounds, size_t n);

void metric_inc(struct metric *m);
void metric_add(struct metric *m, uint64_t v);
void metric_set(struct metric *m, int64_t v);
void metric_observe(struct metric *m, double v);
uint64_t metric_value(const struct metric *m);

/* Latency buckets in seconds, 0.5 ms to 10 s. */
extern const double metric_latency_bounds[];
extern const size_t metric_latency_nbounds;

/* Append every metric in the text format. Returns 0 or -ENOBUFS. */
int metrics_render(struct nbuf *out);
/* Free everything (at exit). */
void metrics_free_all(void);

#endif
