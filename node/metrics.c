/*
 * metrics: a process-wide registry, rendered as Prometheus text (format
 * 0.0.4). Families keep registration order; each family's HELP and TYPE are
 * written once.
 */
#include "node/metrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/util.h"

#define METRIC_BUCKETS_MAX 16

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

struct metric {
	struct metric *next;
	char *labels;
	uint64_t value; /* counter; gauge as int64 bits */
	metric_value_fn fn;
	void *arg;
	/* histogram */
	size_t nbounds;
	double bounds[METRIC_BUCKETS_MAX];
	uint64_t buckets[METRIC_BUCKETS_MAX + 1];
	uint64_t count;
	double sum;
	pthread_mutex_t lock;
};

struct metric_family {
	struct metric_family *next;
	char *name;
	char *help;
	enum metric_type type;
	struct metric *metrics, **tail;
};

static struct metric_family *families, **families_tail = &families;
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;

const double metric_latency_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                        0.1,    0.25,  0.5,    1,     2.5,  5,     10};
const size_t metric_latency_nbounds = ARRAY_SIZE(metric_latency_bounds);

static struct metric *
metric_get(const char *name, const char *labels, const char *help, enum metric_type type)
{
	pthread_mutex_lock(&registry_lock);
	struct metric_family *f;
	for (f = families; f != NULL; f = f->next)
		if (strcmp(f->name, name) == 0)
			break;
	if (f == NULL) {
		f = xcalloc(1, sizeof(*f));
		f->name = xstrdup(name);
		f->help = xstrdup(help);
		f->type = type;
		f->tail = &f->metrics;
		*families_tail = f;
		families_tail = &f->next;
	}
	if (f->type != type)
		panic("metric %s registered with two types", name);
	const char *l = labels ? labels : "";
	struct metric *m;
	for (m = f->metrics; m != NULL; m = m->next)
		if (strcmp(m->labels, l) == 0)
			break;
	if (m == NULL) {
		m = xcalloc(1, sizeof(*m));
		m->labels = xstrdup(l);
		pthread_mutex_init(&m->lock, NULL);
		*f->tail = m;
		f->tail = &m->next;
	}
	pthread_mutex_unlock(&registry_lock);
	return m;
}

struct metric *
metric_counter(const char *name, const char *labels, const char *help)
{
	return metric_get(name, labels, help, METRIC_COUNTER);
}

struct metric *
metric_gauge(const char *name, const char *labels, const char *help)
{
	return metric_get(name, labels, help, METRIC_GAUGE);
}

struct metric *
metric_gauge_fn(const char *name, const char *labels, const char *help, metric_value_fn fn,
                void *arg)
{
	struct metric *m = metric_get(name, labels, help, METRIC_GAUGE);
	m->fn = fn;
	m->arg = arg;
	return m;
}

struct metric *
metric_histogram(const char *name, const char *labels, const char *help, const double *bounds,
                 size_t n)
{
	struct metric *m = metric_get(name, labels, help, METRIC_HISTOGRAM);
	if (n > METRIC_BUCKETS_MAX)
		n = METRIC_BUCKETS_MAX;
	m->nbounds = n;
	memcpy(m->bounds, bounds, n * sizeof(double));
	return m;
}

void
metric_inc(struct metric *m)
{
	__atomic_add_fetch(&m->value, 1, __ATOMIC_RELAXED);
}

void
metric_add(struct metric *m, uint64_t v)
{
	__atomic_add_fetch(&m->value, v, __ATOMIC_RELAXED);
}

void
metric_set(struct metric *m, int64_t v)
{
	__atomic_store_n(&m->value, (uint64_t)v, __ATOMIC_RELAXED);
}

uint64_t
metric_value(const struct metric *m)
{
	return __atomic_load_n(&m->value, __ATOMIC_RELAXED);
}

void
metric_observe(struct metric *m, double v)
{
	pthread_mutex_lock(&m->lock);
	size_t i = 0;
	while (i < m->nbounds && v > m->bounds[i])
		i++;
	m->buckets[i]++;
	m->count++;
	m->sum += v;
	pthread_mutex_unlock(&m->lock);
}

static const char *
metric_type_name(enum metric_type t)
{
	return t == METRIC_COUNTER ? "counter" : t == METRIC_GAUGE ? "gauge" : "histogram";
}

static int
metric_render_histogram(struct nbuf *out, const char *name, struct metric *m)
{
	int rc = 0;
	pthread_mutex_lock(&m->lock);
	uint64_t cum = 0;
	const char *sep = m->labels[0] ? "," : "";
	for (size_t i = 0; i <= m->nbounds && rc == 0; i++) {
		cum += m->buckets[i];
		if (i < m->nbounds)
			rc = nbuf_printf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, m->labels,
			                 sep, m->bounds[i], (unsigned long long)cum);
		else
			rc = nbuf_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, m->labels,
			                 sep, (unsigned long long)cum);
	}
	const char *lb = m->labels[0] ? "{" : "", *rb = m->labels[0] ? "}" : "";
	if (rc == 0)
		rc = nbuf_printf(out, "%s_sum%s%s%s %.6f\n%s_count%s%s%s %llu\n", name, lb,
		                 m->labels, rb, m->sum, name, lb, m->labels, rb,
		                 (unsigned long long)m->count);
	pthread_mutex_unlock(&m->lock);
	return rc;
}

int
metrics_render(struct nbuf *out)
{
	int rc = 0;
	pthread_mutex_lock(&registry_lock);
	for (struct metric_family *f = families; f != NULL && rc == 0; f = f->next) {
		rc = nbuf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
		                 metric_type_name(f->type));
		for (struct metric *m = f->metrics; m != NULL && rc == 0; m = m->next) {
			if (f->type == METRIC_HISTOGRAM) {
				rc = metric_render_histogram(out, f->name, m);
				continue;
			}
			const char *lb = m->labels[0] ? "{" : "", *rb = m->labels[0] ? "}" : "";
			if (f->type == METRIC_COUNTER)
				rc = nbuf_printf(out, "%s%s%s%s %llu\n", f->name, lb, m->labels, rb,
				                 (unsigned long long)metric_value(m));
			else
				rc = nbuf_printf(out, "%s%s%s%s %lld\n", f->name, lb, m->labels, rb,
				                 (long long)(m->fn ? m->fn(m->arg)
				                                   : (int64_t)metric_value(m)));
		}
	}
	pthread_mutex_unlock(&registry_lock);
	return rc;
}

void
metrics_free_all(void)
{
	pthread_mutex_lock(&registry_lock);
	while (families != NULL) {
		struct metric_family *f = families;
		families = f->next;
		while (f->metrics != NULL) {
			struct metric *m = f->metrics;
			f->metrics = m->next;
			pthread_mutex_destroy(&m->lock);
			free(m->labels);
			free(m);
		}
		free(f->name);
		free(f->help);
		free(f);
	}
	families_tail = &families;
	pthread_mutex_unlock(&registry_lock);
}
