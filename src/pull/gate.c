/*
 * The signature-policy gate of a pull: "no policy, no pull" (DESIGN.md). The policy and registries.d
 * are loaded before any network access; the policy is evaluated on the verified image manifest (the
 * chosen instance of an index, as containers/image does) before any layer is fetched.
 */
#include "pull/pull_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/registries_d.h"
#include "policy/policy.h"
#include "registry/attachments.h"
#include "registry/lookaside.h"
#include "registry/sigext.h"

#define DEFAULT_POLICY "/etc/containers/policy.json"

struct ccp_policy_gate {
	ccp_policy policy;
	ccp_registries_d regd;
	ccp_lookaside_opts lookaside;
	ccp_pull_resources res;     /* where the kbs:// keys of the policy come from */
	int ca_fd;                  /* a kbs:// ca_file for lookaside reads, or -1 */
	char ca_path[CCP_MEMFILE_PATH_MAX];
};

/*
 * registries.d use-sigstore-attachments for the image: the most specific docker scope that sets it, then
 * default-docker; false when nothing does (containers/image registries_d.go useSigstoreAttachments).
 */
static int use_attachments(const ccp_registries_d *c, char *const *scopes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < c->n_docker; k++)
			if (strcmp(c->docker[k].scope, scopes[i]) == 0 && c->docker[k].use_sigstore_attachments >= 0)
				return c->docker[k].use_sigstore_attachments;
	return c->def && c->def->use_sigstore_attachments > 0;
}

static int is_index(ccp_manifest_kind k)
{
	return k == CCP_KIND_OCI_INDEX || k == CCP_KIND_DOCKER_LIST;
}

/*
 * The signatures of the image, handed to the policy one at a time as they arrive: the simple signatures
 * (the registry's extension list, or the lookaside store read signature by signature), then the sigstore
 * attachments. The evaluation stops asking once its requirements are met, so a store that offers more
 * is never read further; one lookaside signature is held at a time.
 */
typedef enum { SRC_START, SRC_LIST, SRC_LOOKASIDE, SRC_ATTACH, SRC_END } src_phase;

typedef struct sig_source {
	ccp_policy_gate *gate;
	const resolved_image *rv;
	src_phase phase;
	ccp_digest d;           /* sha256 of the image manifest */
	char **scopes;
	size_t n_scopes;
	ccp_sig_list list;      /* the registry extension's or the attachments' signatures */
	size_t list_next;
	const char *list_from;
	ccp_lookaside_iter *it;
	ccp_buf cur;            /* the lookaside signature being looked at */
	const char **from;      /* per signature handed out: where it came from (static strings) */
	size_t n;               /* signatures handed out */
	char *store;            /* where simple signatures were read */
} sig_source;

static int add_from(sig_source *s, const char *what, ccp_err *e)
{
	const char **nv;

	if (!(nv = realloc(s->from, (s->n + 1) * sizeof(*nv))))
		return ccp_err_oom(e);
	s->from = nv;
	nv[s->n++] = what;
	return 0;
}

/* Simple signatures: the registry's own extension when its ping announced one, else the lookaside store. */
static int open_simple(sig_source *s, ccp_err *e)
{
	const resolved_image *rv = s->rv;
	const ccp_digest *d = &s->d;
	const char *base, *ep = rv->endpoint ? rv->endpoint : rv->image;
	size_t hl = strcspn(ep, "/");
	ccp_lookaside_opts lo = s->gate->lookaside;
	ccp_buf store = CCP_BUF_INIT(0);
	char dstr[CCP_DIGEST_STR_MAX];
	int ext, r;

	if ((r = ccp_registry_supports_signatures(rv->reg, &ext, e)))
		return r;
	if (ext) {
		if ((r = ccp_sigext_fetch(&s->list, rv->reg, d, e)))
			return r;
		if (ccp_buf_printf(&store, "%.*s/extensions/v2/%s/signatures/%s", (int)hl, ep, ep + hl + (ep[hl] ? 1 : 0),
				   ccp_digest_str(d, dstr)))
			return ccp_err_oom(e);
		s->store = ccp_buf_detach(&store);
		s->list_next = 0;
		s->list_from = "registry-extension";
		s->phase = SRC_LIST;
		return 0;
	}
	base = ccp_registries_d_lookaside(&s->gate->regd, s->scopes, s->n_scopes);
	lo.deadline_ms = rv->deadline_ms; /* the pull's deadline, as for its registry requests */
	if ((r = ccp_lookaside_open(&s->it, base, rv->ref.path, d, &lo, e)))
		return r;
	if (!(s->store = strdup(base)))
		return ccp_err_oom(e);
	s->phase = SRC_LOOKASIDE;
	return 0;
}

/* Sigstore signatures of the image manifest and, for an index, of the index too. */
static int open_attachments(sig_source *s, ccp_err *e)
{
	const resolved_image *rv = s->rv;
	int r;

	ccp_sig_list_free(&s->list);
	s->list_next = 0;
	s->phase = SRC_END;
	if (!use_attachments(&s->gate->regd, s->scopes, s->n_scopes))
		return 0;
	if ((r = ccp_attachments_fetch(&s->list, rv->reg, &s->d, e)))
		return r;
	if (is_index(rv->top_kind)) {
		ccp_digest td = rv->top_digest;
		if (td.algo != CCP_SHA256 &&
		    (r = ccp_digest_compute(&td, CCP_SHA256, rv->top_raw.data, rv->top_raw.len, e)))
			return r;
		if ((r = ccp_attachments_fetch(&s->list, rv->reg, &td, e)))
			return r;
	}
	s->list_from = "sigstore-attachment";
	s->phase = SRC_ATTACH;
	return 0;
}

static int source_step(sig_source *s, const ccp_buf **sig, ccp_err *e)
{
	const resolved_image *rv = s->rv;
	int r;

	for (;;) {
		switch (s->phase) {
		case SRC_START:
			/* Signatures are stored under the sha256 digest of the manifest. */
			s->d = rv->man_digest;
			if (s->d.algo != CCP_SHA256 &&
			    (r = ccp_digest_compute(&s->d, CCP_SHA256, rv->man_raw.data, rv->man_raw.len, e)))
				return r;
			if ((r = ccp_policy_scopes(&rv->ref, &s->scopes, &s->n_scopes, e)))
				return r;
			if ((r = open_simple(s, e)))
				return r;
			break;
		case SRC_LIST:
		case SRC_ATTACH:
			if (s->list_next < s->list.n) {
				if ((r = add_from(s, s->list_from, e)))
					return r;
				*sig = &s->list.v[s->list_next++];
				return 1;
			}
			if (s->phase == SRC_ATTACH) {
				s->phase = SRC_END;
				break;
			}
			if ((r = open_attachments(s, e)))
				return r;
			break;
		case SRC_LOOKASIDE:
			if ((r = ccp_lookaside_next(s->it, &s->cur, e)) < 0)
				return r;
			if (r > 0) {
				if ((r = add_from(s, "lookaside", e)))
					return r;
				*sig = &s->cur;
				return 1;
			}
			ccp_lookaside_close(s->it);
			s->it = NULL;
			if ((r = open_attachments(s, e)))
				return r;
			break;
		case SRC_END:
			return 0;
		}
	}
}

static int next_signature(void *payload, const ccp_buf **sig, ccp_err *e)
{
	sig_source *s = payload;
	int r = source_step(s, sig, e);

	if (r < 0) {
		s->phase = SRC_END;
		return ccp_err_wrap(e, "signatures of %s", s->rv->image);
	}
	return r;
}

static void source_free(sig_source *s)
{
	ccp_lookaside_close(s->it);
	ccp_buf_free(&s->cur);
	ccp_sig_list_free(&s->list);
	ccp_policy_strv_free(s->scopes, s->n_scopes);
	free(s->from);
	free(s->store);
}

/* A policy released by the KBS after attestation: a KBS failure is exit 6, a bad policy exit 2. */
/* registries.d given as one kbs:// resource holding a registries.d YAML document. */
static int gate_kbs_registries_d(ccp_registries_d *c, const char *uri, const ccp_resource_src *src, ccp_err *e)
{
	ccp_buf b = CCP_BUF_INIT(0);
	int r;

	if ((r = ccp_resource_read(&b, uri, 0, src, "registries.d", e)))
		return r;
	r = ccp_registries_d_parse(c, b.data, b.len, uri, e);
	ccp_buf_free_secure(&b);
	return r;
}

/* 1 when the policy is a local file that does not exist. */
static int policy_absent(const char *path)
{
	struct stat st;

	if (ccp_resource_is_kbs(path))
		return 0;
	if (strncmp(path, "file://", 7) == 0)
		path += 7;
	return stat(path, &st) != 0 && errno == ENOENT;
}

int ccp_policy_gate_remote(const ccp_pull_options *o)
{
	return !o->trust.insecure_policy && (ccp_resource_is_kbs(o->trust.policy) ||
					     ccp_resource_is_kbs(o->trust.registries_d) ||
					     ccp_resource_is_kbs(o->registry.ca_file));
}

int ccp_policy_gate_prepare(ccp_policy_gate **out, const ccp_pull_options *o, const ccp_cancel *cancel, ccp_err *e)
{
	ccp_policy_gate *g;
	const char *path = o->trust.policy ? o->trust.policy : DEFAULT_POLICY;
	const char *regd = o->trust.registries_d ? o->trust.registries_d : CCP_REGISTRIES_D_DEFAULT;
	int r;

	*out = NULL;
	if (o->trust.insecure_policy)
		return 0;
	if (!(g = calloc(1, sizeof(*g))))
		return ccp_err_oom(e);
	g->ca_fd = -1;
	if ((r = ccp_pull_resources_init(&g->res, o, cancel, e))) {
		ccp_policy_gate_free(g);
		return r;
	}
	if ((r = ccp_policy_load(&g->policy, path, &g->res.src, e))) {
		ccp_policy_gate_free(g);
		/* Without a policy there is no decision: refuse rather than guess (exit 2). Turning the
		 * policy off is a hint only when there is none at all, never for a broken one. */
		if (r == CCP_EINVALID && policy_absent(path))
			ccp_err_wrap(e, "no signature policy (write one, or pull with --insecure-policy to accept "
					"any image)");
		else if (r == CCP_EINVALID)
			ccp_err_wrap(e, "no usable signature policy");
		return r;
	}
	if (ccp_resource_is_kbs(regd)) {
		r = gate_kbs_registries_d(&g->regd, regd, &g->res.src, e);
	} else if (o->trust.registries_d && access(o->trust.registries_d, F_OK) != 0) {
		r = ccp_err_errno(e, CCP_EINVALID, errno, "registries.d directory %s", o->trust.registries_d);
	} else {
		r = ccp_registries_d_load(&g->regd, regd, e);
	}
	if (!r && ccp_resource_is_kbs(o->registry.ca_file))
		r = ccp_pull_memfile(&g->ca_fd, g->ca_path, o->registry.ca_file, &g->res.src, "CA file", e);
	if (r) {
		ccp_policy_gate_free(g);
		return r;
	}
	g->lookaside.tls_verify = o->registry.tls_verify;
	g->lookaside.ca_file = g->ca_fd >= 0 ? g->ca_path : o->registry.ca_file;
	*out = g;
	return 0;
}

int ccp_policy_gate_check(ccp_policy_gate *gate, const resolved_image *rv, ccp_err *e)
{
	return ccp_policy_gate_explain(gate, rv, NULL, e);
}

int ccp_policy_gate_explain(ccp_policy_gate *gate, const resolved_image *rv, ccp_gate_report *rep, ccp_err *e)
{
	sig_source src;
	ccp_policy_image img;
	int r;

	if (!gate)
		return 0;
	if ((r = ccp_policy_fetch_resources(&gate->policy, &rv->ref, &gate->res.src, e)))
		return ccp_err_wrap(e, "keys of the signature policy for %s", rv->image);
	memset(&src, 0, sizeof(src));
	src.gate = gate;
	src.rv = rv;
	memset(&img, 0, sizeof(img));
	img.ref = &rv->ref;
	img.manifest = rv->man_raw.data;
	img.manifest_len = rv->man_raw.len;
	if (is_index(rv->top_kind)) {
		img.index = rv->top_raw.data;
		img.index_len = rv->top_raw.len;
	}
	img.next_signature = next_signature;
	img.payload = &src;
	r = ccp_policy_evaluate_explain(&gate->policy, &img, rep ? &rep->explain : NULL, e);
	if (rep && src.from) {
		rep->sources = src.from;
		rep->n_sources = src.n;
		src.from = NULL;
	}
	if (rep) {
		rep->signature_store = src.store;
		src.store = NULL;
	}
	source_free(&src);
	return r;
}

void ccp_gate_report_free(ccp_gate_report *rep)
{
	if (!rep)
		return;
	ccp_policy_explain_free(&rep->explain);
	free(rep->sources);
	free(rep->signature_store);
	memset(rep, 0, sizeof(*rep));
}

void ccp_policy_gate_free(ccp_policy_gate *gate)
{
	if (!gate)
		return;
	ccp_policy_free(&gate->policy);
	ccp_registries_d_free(&gate->regd);
	if (gate->ca_fd >= 0)
		close(gate->ca_fd);
	free(gate);
}
