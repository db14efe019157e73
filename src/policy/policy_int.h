/* Internals of the policy module shared by its files: the parsing helpers of policy.c and requirements.c. */
#ifndef CCP_POLICY_INT_H
#define CCP_POLICY_INT_H

#include <stddef.h>
#include "policy/policy.h"
#include "util/json.h"

/* policy.c: sets a CCP_EINVALID "invalid policy <what>: <message>" error and returns its code. */
int ccp_policy_bad(ccp_err *e, const char *what, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Every key of obj must be one of allowed[]; with exact, all of them must be present too. */
int ccp_policy_check_keys(const json_t *obj, const char *const *allowed, size_t n, int exact, const char *what,
			  ccp_err *e);

/* requirements.c: frees what a requirement (list) holds. */
void ccp_policy_pr_free(ccp_pr *r);
void ccp_policy_pr_list_free(ccp_pr_list *l);
/* *out gets a copy of s (CCP_ENOMEM when out of memory). */
int ccp_policy_dup_to(char **out, const char *s, ccp_err *e);
/* Parses the policy requirement j into pr; what names it in errors. */
int ccp_policy_parse_pr(ccp_pr *pr, const json_t *j, const char *what, ccp_err *e);

#endif
