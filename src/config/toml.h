/*
 * A small, strict TOML parser for the subset configuration files use (registries.conf, ccpull.toml):
 * comments, bare and quoted keys, dotted keys, basic and literal strings (escapes, \u and \U),
 * booleans, decimal integers, arrays (nested, multi-line, trailing comma), [tables] and
 * [[arrays.of.tables]]. Multi-line strings only with CCP_TOML_MULTILINE_STRINGS. Inline tables,
 * floats and dates are refused with an error naming the line, as are duplicate keys and tables
 * defined twice.
 *
 * It is event-based: every table header and every key/value pair is handed to a sink in document
 * order; the sink keeps what it knows. Names of tables and keys are their dotted parts joined by
 * CCP_TOML_KEYSEP (a quoted part may contain '.').
 */
#ifndef CCP_CONFIG_TOML_H
#define CCP_CONFIG_TOML_H

#include <stddef.h>
#include "util/err.h"

#define CCP_TOML_KEYSEP '\x1f'

typedef enum { CCP_TOML_STRING, CCP_TOML_INT, CCP_TOML_BOOL, CCP_TOML_ARRAY } ccp_toml_type;

typedef struct ccp_toml_value {
	ccp_toml_type type;
	char *s;                       /* CCP_TOML_STRING: NUL-terminated, never contains NUL */
	long long i;                   /* CCP_TOML_INT */
	int b;                         /* CCP_TOML_BOOL */
	struct ccp_toml_value *items;  /* CCP_TOML_ARRAY */
	size_t n;
} ccp_toml_value;

typedef struct ccp_toml_sink ccp_toml_sink;
struct ccp_toml_sink {
	/* [name] or [[name]] (is_array); a non-zero return stops the parse with that code */
	int (*table)(ccp_toml_sink *s, const char *name, int is_array, int line, ccp_err *e);
	/* key = value under table ("" at the top level); v is valid during the call only */
	int (*kv)(ccp_toml_sink *s, const char *table, const char *key, const ccp_toml_value *v, int line, ccp_err *e);
};

enum {
	CCP_TOML_MULTILINE_STRINGS = 1  /* accept """...""" and '''...''' (TOML 1.0 rules) */
};

/* Parses data (len bytes, no NUL) and hands its tables and keys to sink. Errors name the line. */
int ccp_toml_parse(const char *data, size_t len, unsigned int flags, ccp_toml_sink *sink, ccp_err *e);

/* "a" KEYSEP "b" -> "a.b" into out (quoted parts are not re-quoted); for messages. */
void ccp_toml_name(char *out, size_t n, const char *name);

#endif
