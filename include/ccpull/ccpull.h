/*
 * libccpull: pull, verify and unpack OCI images inside a confidential guest.
 *
 * Conventions (as in libgit2):
 * - Every function that can fail returns 0 or a negative ccp_error_code (ccpull/errors.h); getters
 *   and _free functions cannot fail. After a failure, ccp_context_last_error(ctx) gives a message
 *   naming the cause and, where they apply, the image and the layer.
 * - Objects returned through a pointer-to-pointer first argument are owned by the caller and freed with
 *   the matching _free function. Strings returned by getters belong to the object they came from and
 *   live as long as it does.
 * - Options structs carry a version; initialise them with the _INIT macro or the _init function.
 *   NULL options mean the defaults.
 * - A context may be used by one thread at a time (ccp_context_cancel excepted: any thread, or a
 *   signal handler, may cancel it); different contexts are independent, and several threads may pull
 *   at once, each with its own context, even into one store.
 * - The library never prints and never exits.
 */
#ifndef INCLUDE_ccpull_ccpull_h__
#define INCLUDE_ccpull_ccpull_h__

#include <stddef.h>
#include <stdint.h>
#include "common.h"
#include "cdh.h"
#include "config.h"
#include "errors.h"
#include "pull.h"
#include "store.h"
#include "verify.h"

#endif
