/* JSON from outside (json.h): jansson with a size cap and duplicate keys refused, typed getters naming the key. */
#include "util/json.h"

int ccp_json_parse(json_t **out, const void *data, size_t len, size_t max, const char *what, int code, ccp_err *e)
{
	json_error_t jerr;
	json_t *j;

	*out = NULL;
	if (len > max)
		return ccp_err_set(e, code, "%s is %zu bytes, more than the limit of %zu", what, len, max);
	j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j)
		return ccp_err_set(e, code, "%s is not valid JSON: %s at line %d column %d", what, jerr.text,
				   jerr.line, jerr.column);
	*out = j;
	return 0;
}

static int get_typed(const json_t *obj, const char *key, int required, json_t **out, json_type type,
		     const char *tname, const char *what, int code, ccp_err *e)
{
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v)) {
		if (required)
			return ccp_err_set(e, code, "%s: missing required field \"%s\"", what, key);
		return 0;
	}
	if (json_typeof(v) != type)
		return ccp_err_set(e, code, "%s: field \"%s\" must be %s", what, key, tname);
	*out = v;
	return 0;
}

int ccp_json_get_string(const json_t *obj, const char *key, int required, const char **out,
			const char *what, int code, ccp_err *e)
{
	json_t *v = NULL;
	int r = get_typed(obj, key, required, &v, JSON_STRING, "a string", what, code, e);
	if (r == 0 && v)
		*out = json_string_value(v); /* no NUL inside: parsed without JSON_ALLOW_NUL */
	return r;
}

int ccp_json_get_object(const json_t *obj, const char *key, int required, json_t **out,
			const char *what, int code, ccp_err *e)
{
	return get_typed(obj, key, required, out, JSON_OBJECT, "an object", what, code, e);
}

int ccp_json_get_array(const json_t *obj, const char *key, int required, json_t **out,
		       const char *what, int code, ccp_err *e)
{
	return get_typed(obj, key, required, out, JSON_ARRAY, "an array", what, code, e);
}

int ccp_json_get_uint(const json_t *obj, const char *key, int required, uint64_t *out,
		      const char *what, int code, ccp_err *e)
{
	json_t *v = NULL;
	int r = get_typed(obj, key, required, &v, JSON_INTEGER, "an integer", what, code, e);
	if (r == 0 && v) {
		json_int_t i = json_integer_value(v);
		if (i < 0)
			return ccp_err_set(e, code, "%s: field \"%s\" must not be negative", what, key);
		*out = (uint64_t)i;
	}
	return r;
}
