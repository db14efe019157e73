/*
 * registries.d YAML through libyaml's document API. Unknown keys are ignored (containers/image uses a
 * plain yaml.Unmarshal); duplicate keys in a file and duplicate sections across files are refused.
 */
#include "config/registries_d.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "util/buf.h"

#define FILE_MAX (1u << 20)
#define MAX_FILES 1024
#define MAX_SCOPES 65536

static void ns_free(ccp_regd_ns *ns)
{
	free(ns->scope);
	free(ns->lookaside);
	free(ns->sigstore);
	free(ns->lookaside_staging);
	free(ns->sigstore_staging);
}

void ccp_registries_d_free(ccp_registries_d *c)
{
	if (!c)
		return;
	if (c->def) {
		ns_free(c->def);
		free(c->def);
	}
	for (size_t i = 0; i < c->n_docker; i++)
		ns_free(&c->docker[i]);
	free(c->docker);
	memset(c, 0, sizeof(*c));
}

static const char *scalar(yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* A mapping whose keys are all distinct scalars. */
static int check_mapping(yaml_document_t *doc, yaml_node_t *n, const char *where, const char *what, ccp_err *e)
{
	if (!n || n->type != YAML_MAPPING_NODE)
		return ccp_err_set(e, CCP_EINVALID, "registries.d %s: %s must be a mapping", what, where);
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		const char *k = scalar(yaml_document_get_node(doc, p->key));
		if (!k)
			return ccp_err_set(e, CCP_EINVALID, "registries.d %s: %s has a non-scalar key", what, where);
		for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++)
			if (strcmp(k, scalar(yaml_document_get_node(doc, q->key))) == 0)
				return ccp_err_set(e, CCP_EINVALID, "registries.d %s: key \"%.200s\" is defined twice in %s",
						   what, k, where);
	}
	return 0;
}

static int parse_ns(ccp_regd_ns *ns, yaml_document_t *doc, yaml_node_t *n, const char *where, const char *what,
		    ccp_err *e)
{
	int r;

	ns->use_sigstore_attachments = -1;
	/* An empty value ("docker: {example.com: }") is a null: an empty section. */
	if (n && n->type == YAML_SCALAR_NODE && (n->data.scalar.length == 0 || strcmp(scalar(n), "null") == 0 ||
						 strcmp(scalar(n), "~") == 0))
		return 0;
	if ((r = check_mapping(doc, n, where, what, e)))
		return r;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		const char *k = scalar(yaml_document_get_node(doc, p->key));
		yaml_node_t *vn = yaml_document_get_node(doc, p->value);
		const char *v = scalar(vn);
		char **dst = NULL;

		if (strcmp(k, "lookaside") == 0)
			dst = &ns->lookaside;
		else if (strcmp(k, "sigstore") == 0)
			dst = &ns->sigstore;
		else if (strcmp(k, "lookaside-staging") == 0)
			dst = &ns->lookaside_staging;
		else if (strcmp(k, "sigstore-staging") == 0)
			dst = &ns->sigstore_staging;
		else if (strcmp(k, "use-sigstore-attachments") == 0) {
			if (v && (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "TRUE")))
				ns->use_sigstore_attachments = 1;
			else if (v && (!strcmp(v, "false") || !strcmp(v, "False") || !strcmp(v, "FALSE")))
				ns->use_sigstore_attachments = 0;
			else
				return ccp_err_set(e, CCP_EINVALID, "registries.d %s: %s: use-sigstore-attachments must be "
						   "true or false", what, where);
			continue;
		} else {
			continue; /* unknown keys are ignored, as containers/image does */
		}
		if (!v)
			return ccp_err_set(e, CCP_EINVALID, "registries.d %s: %s: %s must be a string", what, where, k);
		if (!(*dst = strdup(v)))
			return ccp_err_oom(e);
	}
	return 0;
}

int ccp_registries_d_parse(ccp_registries_d *c, const char *data, size_t len, const char *what, ccp_err *e)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	int r = 0;

	if (len > FILE_MAX)
		return ccp_err_set(e, CCP_EINVALID, "registries.d %s: larger than %u bytes", what, FILE_MAX);
	if (!yaml_parser_initialize(&parser))
		return ccp_err_oom(e);
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	if (!yaml_parser_load(&parser, &doc)) {
		r = ccp_err_set(e, CCP_EINVALID, "registries.d %s: invalid YAML at line %zu: %s", what,
				parser.problem_mark.line + 1, parser.problem ? parser.problem : "parse error");
		yaml_parser_delete(&parser);
		return r;
	}
	root = yaml_document_get_root_node(&doc);
	/* An empty file is an empty configuration. */
	if (!root || (root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0))
		goto out;
	if ((r = check_mapping(&doc, root, "the top level", what, e)))
		goto out;
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top && !r; p++) {
		const char *k = scalar(yaml_document_get_node(&doc, p->key));
		yaml_node_t *v = yaml_document_get_node(&doc, p->value);

		if (strcmp(k, "default-docker") == 0) {
			if (c->def) {
				r = ccp_err_set(e, CCP_EINVALID, "registries.d %s: default-docker is defined more than once",
						what);
				break;
			}
			if (!(c->def = calloc(1, sizeof(*c->def)))) {
				r = ccp_err_oom(e);
				break;
			}
			r = parse_ns(c->def, &doc, v, "default-docker", what, e);
		} else if (strcmp(k, "docker") == 0) {
			size_t add;
			ccp_regd_ns *nv;
			if (v && v->type == YAML_SCALAR_NODE && v->data.scalar.length == 0)
				continue;
			if ((r = check_mapping(&doc, v, "docker", what, e)))
				break;
			add = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
			if (c->n_docker + add > MAX_SCOPES) {
				r = ccp_err_set(e, CCP_EINVALID, "registries.d %s: too many docker scopes", what);
				break;
			}
			if (!(nv = realloc(c->docker, (c->n_docker + add + 1) * sizeof(*nv)))) {
				r = ccp_err_oom(e);
				break;
			}
			c->docker = nv;
			for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top && !r; q++) {
				const char *scope = scalar(yaml_document_get_node(&doc, q->key));
				ccp_regd_ns *ns = &c->docker[c->n_docker];
				char where[300];

				for (size_t i = 0; i < c->n_docker; i++)
					if (strcmp(c->docker[i].scope, scope) == 0)
						r = ccp_err_set(e, CCP_EINVALID, "registries.d %s: docker scope \"%.200s\" is "
								"defined more than once", what, scope);
				if (r)
					break;
				memset(ns, 0, sizeof(*ns));
				c->n_docker++;
				if (!(ns->scope = strdup(scope))) {
					r = ccp_err_oom(e);
					break;
				}
				snprintf(where, sizeof(where), "docker scope \"%.200s\"", scope);
				r = parse_ns(ns, &doc, yaml_document_get_node(&doc, q->value), where, what, e);
			}
		}
	}
out:
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return r;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int ccp_registries_d_load(ccp_registries_d *out, const char *dir, ccp_err *e)
{
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0;
	int r = 0;

	memset(out, 0, sizeof(*out));
	if (!(d = opendir(dir))) {
		if (errno == ENOENT)
			return 0;
		return ccp_err_errno(e, CCP_EINVALID, errno, "cannot open registries.d directory %s", dir);
	}
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		char **nn;
		if (l < 6 || strcmp(de->d_name + l - 5, ".yaml") != 0)
			continue;
		if (n >= MAX_FILES) {
			r = ccp_err_set(e, CCP_EINVALID, "registries.d %s holds more than %d files", dir, MAX_FILES);
			break;
		}
		if (!(nn = realloc(names, (n + 1) * sizeof(*nn))) || !(nn[n] = strdup(de->d_name))) {
			if (nn)
				names = nn;
			r = ccp_err_oom(e);
			break;
		}
		names = nn;
		n++;
	}
	closedir(d);
	if (!r)
		qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n && !r; i++) {
		ccp_buf b = CCP_BUF_INIT(0);
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (!(r = ccp_read_file(&b, path, FILE_MAX, e)))
			r = ccp_registries_d_parse(out, b.data, b.len, path, e);
		ccp_buf_free(&b);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (r)
		ccp_registries_d_free(out);
	return r;
}

static const char *ns_url(const ccp_regd_ns *ns)
{
	if (ns->lookaside && *ns->lookaside)
		return ns->lookaside;
	if (ns->sigstore && *ns->sigstore)
		return ns->sigstore;
	return NULL;
}

const char *ccp_registries_d_lookaside(const ccp_registries_d *c, char *const *scopes, size_t n)
{
	const char *u;

	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < c->n_docker; k++)
			if (strcmp(c->docker[k].scope, scopes[i]) == 0 && (u = ns_url(&c->docker[k])))
				return u;
	if (c->def && (u = ns_url(c->def)))
		return u;
	return CCP_LOOKASIDE_DEFAULT;
}
