/*
 * cmd_result: the outcome of commands, kept by apply() under the batch's
 * request id and carried back to the node that submitted it.
 *
 *   results := n u32 | index u64 | (status u8 | id u32 | uidvalidity u32 |
 *              uid u32 | modseq u64 | nset1 u32 | set1 u32* | nset2 u32 |
 *              set2 u32*){n}
 */
#include <stdlib.h>
#include <string.h>

#include "node/lib/util.h"
#include "node/lib/wire.h"
#include "node/store/cmd.h"

struct cmd_results *
cmd_results_new(uint32_t n)
{
	struct cmd_results *rs = xcalloc(1, sizeof(*rs) + (size_t)n * sizeof(rs->r[0]));
	rs->n = n;
	return rs;
}

void
cmd_results_free(struct cmd_results **prs)
{
	struct cmd_results *rs = *prs;
	if (rs == NULL)
		return;
	for (uint32_t i = 0; i < rs->n; i++) {
		free(rs->r[i].set1);
		free(rs->r[i].set2);
	}
	free(rs);
	*prs = NULL;
}

void
cmd_result_push(struct cmd_result *r, int set, uint32_t uid)
{
	uint32_t *n = set == 1 ? &r->nset1 : &r->nset2;
	uint32_t **v = set == 1 ? &r->set1 : &r->set2;
	/* Grow in powers of two. */
	if ((*n & (*n - 1)) == 0 && *n >= 8)
		*v = xrealloc(*v, (size_t)*n * 2 * sizeof(uint32_t));
	else if (*n == 0)
		*v = xmalloc(8 * sizeof(uint32_t));
	(*v)[(*n)++] = uid;
}

int
cmd_results_encode(const struct cmd_results *rs, struct nbuf *out)
{
	struct wire_writer w;
	wire_writer_init(&w, out);
	wire_put_u32(&w, rs->n);
	wire_put_u64(&w, rs->index);
	for (uint32_t i = 0; i < rs->n; i++) {
		const struct cmd_result *r = &rs->r[i];
		wire_put_u8(&w, (uint8_t)r->status);
		wire_put_u32(&w, r->id);
		wire_put_u32(&w, r->uidvalidity);
		wire_put_u32(&w, r->uid);
		wire_put_u64(&w, r->modseq);
		wire_put_u32(&w, r->nset1);
		for (uint32_t k = 0; k < r->nset1; k++)
			wire_put_u32(&w, r->set1[k]);
		wire_put_u32(&w, r->nset2);
		for (uint32_t k = 0; k < r->nset2; k++)
			wire_put_u32(&w, r->set2[k]);
	}
	return w.err ? -1 : 0;
}

static int
cmd_results_get_set(struct wire_reader *r, uint32_t *n_r, uint32_t **v_r)
{
	uint32_t n = wire_get_u32(r);
	if (r->err || n > CMD_RESULT_RANGES_MAX * 4u || (size_t)n * 4 > wire_left(r))
		return -1;
	*n_r = n;
	if (n == 0)
		return 0;
	*v_r = xmalloc((size_t)n * sizeof(uint32_t));
	for (uint32_t k = 0; k < n; k++)
		(*v_r)[k] = wire_get_u32(r);
	return r->err ? -1 : 0;
}

int
cmd_results_decode(const void *buf, size_t len, struct cmd_results **rs_r)
{
	struct wire_reader r;
	wire_reader_init(&r, buf, len);
	uint32_t n = wire_get_u32(&r);
	uint64_t index = wire_get_u64(&r);
	/* Each result takes at least 29 bytes: bound n by what is there. */
	if (r.err || n > CMD_BATCH_CMDS_MAX || (size_t)n * 29 > wire_left(&r))
		return -1;
	struct cmd_results *rs = cmd_results_new(n);
	rs->index = index;
	for (uint32_t i = 0; i < n; i++) {
		struct cmd_result *x = &rs->r[i];
		uint8_t st = wire_get_u8(&r);
		x->status = (enum cmd_status)st;
		x->id = wire_get_u32(&r);
		x->uidvalidity = wire_get_u32(&r);
		x->uid = wire_get_u32(&r);
		x->modseq = wire_get_u64(&r);
		if (r.err || st >= CMD_STATUS_MAX || cmd_results_get_set(&r, &x->nset1, &x->set1) ||
		    cmd_results_get_set(&r, &x->nset2, &x->set2))
			goto err;
	}
	if (wire_done(&r) != 0)
		goto err;
	*rs_r = rs;
	return 0;
err:
	cmd_results_free(&rs);
	return -1;
}
