/* JSON from outside: jansson with a size cap, duplicate keys rejected, typed getters that name the key. */
#ifndef CCP_UTIL_JSON_H
#define CCP_UTIL_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "util/err.h"

/* Parses data (not NUL-terminated) into *out. what names the document in messages ("manifest"). */
int ccp_json_parse(json_t **out, const void *data, size_t len, size_t max, const char *what, int code, ccp_err *e);

/*
 * Typed member getters. `required` missing -> error; present with the wrong type -> error.
 * Optional and missing -> *out untouched (NULL / 0) and 0 returned.
 */
int ccp_json_get_string(const json_t *obj, const char *key, int required, const char **out,
			const char *what, int code, ccp_err *e);
int ccp_json_get_object(const json_t *obj, const char *key, int required, json_t **out,
			const char *what, int code, ccp_err *e);
int ccp_json_get_array(const json_t *obj, const char *key, int required, json_t **out,
		       const char *what, int code, ccp_err *e);
/* Non-negative integer that fits in int64. */
int ccp_json_get_uint(const json_t *obj, const char *key, int required, uint64_t *out,
		      const char *what, int code, ccp_err *e);

#endif
