/*
 * Pulls an image into a bundle the way kata-agent asks the Confidential Data Hub to:
 * PullImage{image_url, bundle_path} -> manifest digest, then the runtime uses BUNDLE/rootfs.
 *
 *   cc -o pull_like_kata pull_like_kata.c $(pkg-config --cflags --libs ccpull)
 *   ./pull_like_kata 127.0.0.1:5000/app:1 /run/kata-containers/c1
 */
#include <stdio.h>
#include <ccpull/ccpull.h>

int main(int argc, char **argv)
{
	ccp_pull_options opts = CCP_PULL_OPTIONS_INIT;
	ccp_context *ctx;
	ccp_pull_result *res;
	int r;

	if (argc != 3) {
		fprintf(stderr, "usage: %s IMAGE BUNDLE\n", argv[0]);
		return 2;
	}
	if (ccp_init() < 0 || ccp_context_new(&ctx) != 0) {
		fprintf(stderr, "%s: %s\n", argv[0], ccp_context_last_error(NULL));
		return 1;
	}
	opts.trust.insecure_policy = 1; /* a guest would set opts.trust.policy to its measured policy instead */
	opts.registry.tls_verify = 0;   /* the example talks to a loopback registry over plain HTTP */
	r = ccp_pull(&res, ctx, argv[1], argv[2], &opts);
	if (r != 0) {
		fprintf(stderr, "pull %s: %s\n", argv[1], ccp_context_last_error(ctx));
		ccp_context_free(ctx);
		ccp_shutdown();
		return ccp_exit_status(r);
	}
	printf("%s\n", ccp_pull_result_manifest_digest(res));
	ccp_pull_result_free(res);
	ccp_context_free(ctx);
	ccp_shutdown();
	return 0;
}
