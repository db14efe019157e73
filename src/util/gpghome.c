/* A private GNUPGHOME for gpgme (util/gpghome.h); left out of builds without gpgme, which call nothing here. */
#include "util/gpghome.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gpgme.h>

#include "util/fs.h"

static pthread_once_t gpgme_once = PTHREAD_ONCE_INIT;
static int gpgme_ok;

static void gpgme_init(void)
{
	gpgme_ok = gpgme_check_version(NULL) != NULL &&
		   gpgme_engine_check_version(GPGME_PROTOCOL_OpenPGP) == GPG_ERR_NO_ERROR;
}

/*
 * gpgme's one-time initialisation (gpgme_check_version and the OpenPGP engine check, which run
 * gpgconf and gpg), made at the first use rather than by ccp_init: a pull without OpenPGP never
 * starts them. gpgme has nothing to undo, so ccp_shutdown leaves it.
 */
static void gpg_global_init(void)
{
	pthread_once(&gpgme_once, gpgme_init);
}

int ccp_gpg_home_new(struct gpgme_context **out, char *home, size_t home_len, int code, ccp_err *e)
{
	const char *tmp = getenv("TMPDIR");
	gpgme_ctx_t ctx = NULL;
	gpgme_error_t err;

	*out = NULL;
	home[0] = '\0';
	gpg_global_init();
	if (!gpgme_ok)
		return ccp_err_set(e, code, "gpgme cannot find a usable gpg engine");
	if (!tmp || tmp[0] != '/' || strlen(tmp) > 200)
		tmp = "/tmp";
	snprintf(home, home_len, "%s/ccpull-gpg-XXXXXX", tmp);
	if (!mkdtemp(home)) {
		home[0] = '\0';
		return ccp_err_errno(e, code, errno, "cannot create a temporary GNUPGHOME under %s", tmp);
	}
	if ((err = gpgme_new(&ctx))) {
		ccp_gpg_home_free(NULL, home, 0);
		return ccp_err_set(e, code, "gpgme_new: %s", gpgme_strerror(err));
	}
	if ((err = gpgme_set_protocol(ctx, GPGME_PROTOCOL_OpenPGP)) ||
	    (err = gpgme_ctx_set_engine_info(ctx, GPGME_PROTOCOL_OpenPGP, NULL, home))) {
		ccp_gpg_home_free(ctx, home, 0);
		return ccp_err_set(e, code, "gpgme engine setup: %s", gpgme_strerror(err));
	}
	*out = ctx;
	return 0;
}

void ccp_gpg_home_free(struct gpgme_context *ctx, char *home, int agent)
{
	if (ctx)
		gpgme_release(ctx);
	if (!home || !home[0])
		return;
	if (agent) {
		/*
		 * Secret key operations start a gpg-agent for the home: stop it, and remove its socket
		 * directory when gpg put it under /run/user (gpgme spawns gpgconf, no shell). Best effort:
		 * an orphaned agent exits once its socket is gone.
		 */
		const char *gpgconf = gpgme_get_dirinfo("gpgconf-name");
		const char *kill_argv[] = { "gpgconf", "--homedir", home, "--kill", "gpg-agent", NULL };
		const char *rmdir_argv[] = { "gpgconf", "--homedir", home, "--remove-socketdir", NULL };
		gpgme_ctx_t sc = NULL;
		if (gpgconf && gpgme_new(&sc) == 0 && gpgme_set_protocol(sc, GPGME_PROTOCOL_SPAWN) == 0 &&
		    gpgme_op_spawn(sc, gpgconf, kill_argv, NULL, NULL, NULL, 0) == 0)
			gpgme_op_spawn(sc, gpgconf, rmdir_argv, NULL, NULL, NULL, 0);
		if (sc)
			gpgme_release(sc);
	}
	if (ccp_rm_rf_at(AT_FDCWD, home) == 0)
		home[0] = '\0';
}
