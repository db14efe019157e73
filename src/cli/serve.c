/*
 * ccpull serve: the Confidential Data Hub's ImagePullService over ttrpc on a unix socket, for
 * kata-agent (ccpull(1), SERVE). Socket activation: systemd's LISTEN_PID/LISTEN_FDS (the first
 * passed descriptor is used).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ccpull/ccpull.h"
#include "options.h"
#include "service.h"

#define DEFAULT_SOCKET "/run/confidential-containers/cdh.sock"
#define DEFAULT_AA_SOCKET "/run/confidential-containers/attestation-agent/attestation-agent.sock"
#define SD_LISTEN_FDS_START 3

#define CDH_NAME "confidential-data-hub"

int cmd_serve(int argc, char **argv);
int cmd_cdh(int argc, char **argv);

static const char serve_usage[] =
	"Usage: ccpull serve [--socket PATH] [OPTIONS]\n"
	"\n"
	"Serve the Confidential Data Hub's ttrpc ImagePullService (api.ImagePullService/PullImage) on a\n"
	"unix socket, as kata-agent calls it on CreateContainer. Runs until SIGTERM or SIGINT, then\n"
	"finishes the pulls in flight and exits 0. With systemd socket activation (LISTEN_FDS) the\n"
	"passed socket is used instead of --socket.\n"
	"\n"
	"  --socket PATH              unix socket to listen on (default " DEFAULT_SOCKET ")\n"
	"  --max-connections N        connections served at once (default 64)\n"
	"  --max-requests N           requests in flight, all connections (default 32; 16 per connection)\n"
	"  -q, --quiet                no log line per request\n"
	"  --config PATH              the Confidential Data Hub's config (cdh.toml): [image], [kbc], [aa];\n"
	"                             without it, the image settings of the kernel command line, as CDH\n"
	"                             (agent.image_policy_file, agent.https_proxy, ...). Options win over it\n"
	"\n"
	"After each successful pull, when the attestation agent's socket exists (--aa-socket, [aa] aa_socket,\n"
	"default "
	DEFAULT_AA_SOCKET "),\n"
	"the pull is recorded in the runtime measurement (domain github.com/confidential-containers,\n"
	"operation PullImage, content {\"image\":..., \"digest\":...}), as CDH does; when that fails, the\n"
	"pull fails.\n"
	"\n"
	"Options applied to every pull (as for ccpull pull):\n"
	"  --insecure-policy, --policy PATH, --tls-verify=false, --ca-file PATH, --registries-conf PATH,\n"
	"  --registries-d DIR, --authfile PATH, --creds USER:PASS, --platform OS/ARCH[/VARIANT],\n"
	"  --store DIR, --snapshotter overlay|copy, --keep-layers=false, --store-sync none|full,\n"
	"  --parallel-layers N, --max-decompression-ratio N, --parallel-ranges N,\n"
	"  --parallel-ranges-min-mib M, --decryption-key KEY, --keyprovider-config PATH,\n"
	"  --kbs URL, --attester A, --aa-socket PATH, --kbs-cert PATH, --kbs-resources FILE, --kbs-key ec|rsa,\n"
	"  --retry-times N, --timeout SECONDS\n"
	"\n"
	"The socket also serves the Confidential Data Hub's api.GetResourceService/GetResource (kbs:///\n"
	"resources from --kbs or --kbs-resources), api.SealedSecretService/UnsealSecret (sealed.* vault\n"
	"secrets of provider kbs, their ES256 signature checked unless the config's\n"
	"skip_sealed_secret_verification or SKIP_SEALED_SECRET_VERIFICATION=true says otherwise) and\n"
	"keyprovider.KeyProviderService/UnWrapKey (CoCo annotation packets, their KEK from the KBS).\n"
	"\n"
	"See ccpull(1), SERVE.\n";

static void __attribute__((noreturn)) serve_usage_error(const char *what, const char *arg)
{
	cli_usage_error("serve", "%s%s%.200s", what, arg ? " " : "", arg ? arg : "");
}

/* A decimal number in 1..max, digits only. */
static int parse_count(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (!s || !*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (max - (unsigned long)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	if (v == 0)
		return -1;
	*out = v;
	return 0;
}

/* The socket systemd passed, or -1 when this process was not socket-activated. */
static int activated_socket(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	unsigned long p, n;
	int acc = 0;
	socklen_t len = sizeof(acc);

	if (parse_count(pid, ULONG_MAX, &p) != 0 || p != (unsigned long)getpid() ||
	    parse_count(fds, 1024, &n) != 0)
		return -1;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (getsockopt(SD_LISTEN_FDS_START, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) != 0 || !acc) {
		fprintf(stderr, "ccpull serve: LISTEN_FDS is set but descriptor 3 is not a listening socket\n");
		exit(1);
	}
	fcntl(SD_LISTEN_FDS_START, F_SETFD, FD_CLOEXEC);
	return SD_LISTEN_FDS_START;
}

static int bind_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char parent[sizeof(sa.sun_path)];
	struct stat st;
	char *slash;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		serve_usage_error("socket path too long:", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	memcpy(parent, path, strlen(path) + 1);
	if ((slash = strrchr(parent, '/')) && slash != parent) {
		*slash = '\0';
		if (mkdir(parent, 0755) != 0 && errno != EEXIST) {
			fprintf(stderr, "ccpull serve: mkdir %s: %s\n", parent, strerror(errno));
			return -1;
		}
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		fprintf(stderr, "ccpull serve: socket: %s\n", strerror(errno));
		return -1;
	}
	if (lstat(path, &st) == 0) {
		/* a socket left by a server that died is replaced; a live one or any other file is not */
		if (!S_ISSOCK(st.st_mode) || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			fprintf(stderr, "ccpull serve: %s exists and is %s\n", path,
				S_ISSOCK(st.st_mode) ? "served by another process" : "not a socket");
			close(fd);
			return -1;
		}
		close(fd);
		unlink(path);
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
			fprintf(stderr, "ccpull serve: socket: %s\n", strerror(errno));
			return -1;
		}
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || chmod(path, 0600) != 0 || listen(fd, 64) != 0) {
		fprintf(stderr, "ccpull serve: listen on %s: %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

enum { S_SOCKET = CLI_OPT_LOCAL, S_MAX_CONNECTIONS, S_MAX_REQUESTS, S_HELP };

int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_SHARED_LONG_OPTIONS,
		{ "socket", required_argument, NULL, S_SOCKET },
		{ "max-connections", required_argument, NULL, S_MAX_CONNECTIONS },
		{ "max-requests", required_argument, NULL, S_MAX_REQUESTS },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, S_HELP },
		{ NULL, 0, NULL, 0 }
	};
	cli_image_opts img;
	svc_config cfg = { 0 };
	const char *socket_path = DEFAULT_SOCKET;
	ccp_context *ctx = NULL;
	unsigned long n;
	sigset_t sigs;
	int ch, listen_fd, sig_fd, r;

	cli_image_opts_init(&img);
	optind = 1;
	while ((ch = cli_getopt(argc, argv, "q", opts, "serve")) != -1) {
		if (cli_image_option(&img, ch, optarg, CLI_GROUP_IMAGE | CLI_GROUP_KBS | CLI_GROUP_LAYERS, "serve"))
			continue;
		switch (ch) {
		case S_SOCKET: socket_path = optarg; break;
		case S_MAX_CONNECTIONS:
		case S_MAX_REQUESTS:
			if (parse_count(optarg, 4096, &n) != 0)
				serve_usage_error("expected a number from 1 to 4096, not", optarg);
			if (ch == S_MAX_CONNECTIONS)
				cfg.max_connections = n;
			else
				cfg.max_requests = n;
			break;
		case 'q': cfg.quiet = 1; break;
		case S_HELP: fputs(serve_usage, stdout); return 0;
		default: serve_usage_error("unknown option", NULL);
		}
	}
	cli_check_operands(argc, argv, 0, 0, "serve", "no operands");
	cfg.pull = &img.pull;
	/* --config, or without it the kernel command line as CDH reads it; before any thread starts */
	if (ccp_context_new(&ctx) != 0) {
		fprintf(stderr, "ccpull serve: out of memory\n");
		r = 1;
		goto out;
	}
	if ((r = cli_load_config(&img, ctx, 1, "serve")) != 0)
		goto out;
	/* --aa-socket, else [aa] aa_socket (filled in by cli_load_config), else the default */
	cfg.aa_socket = img.pull.kbs.aa_socket ? img.pull.kbs.aa_socket : DEFAULT_AA_SOCKET;
	cfg.skip_sealed_secret_verification = ccp_config_skip_sealed_secret_verification(img.config);

	/* before any thread exists, so that every thread inherits the mask and only sig_fd sees them */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	r = 1;
	if (sigprocmask(SIG_BLOCK, &sigs, NULL) != 0 || (sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC)) < 0) {
		fprintf(stderr, "ccpull serve: signalfd: %s\n", strerror(errno));
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	listen_fd = activated_socket();
	if (listen_fd < 0 && (listen_fd = bind_socket(socket_path)) < 0) {
		close(sig_fd);
		goto out;
	}
	if (listen_fd == SD_LISTEN_FDS_START)
		socket_path = NULL;
	ccp_svc_log(&cfg, "ccpull %s serving api.ImagePullService on %s", ccp_version(),
		socket_path ? socket_path : "the socket passed by systemd");
	r = ccp_svc_run(listen_fd, sig_fd, &cfg) == 0 ? 0 : 1;
	close(sig_fd);
	if (socket_path)
		unlink(socket_path);
out:
	cli_image_opts_free(&img);
	ccp_context_free(ctx);
	return r;
}

/* ---- CDH mode: ccpull started by kata-agent in the Confidential Data Hub's place ---- */

static const char cdh_usage[] =
	"Usage: ccpull cdh [-c FILE]\n"
	"       " CDH_NAME " [-c FILE]   (ccpull installed or linked under that name)\n"
	"\n"
	"Be the Confidential Data Hub that kata-agent starts: the same invocation, socket and ttrpc\n"
	"services, CDH's semantics for its configuration. Serves PullImage, GetResource, UnsealSecret and\n"
	"keyprovider UnWrapKey (as `ccpull serve` does) on the configured socket (default\n"
	DEFAULT_SOCKET ", its directory made as needed) until SIGTERM, SIGINT or SIGHUP,\n"
	"then finishes the requests in flight and exits 0.\n"
	"\n"
	"  -c, --config FILE   CDH's config (cdh.toml; kata passes /run/initdata/cdh.toml): top-level\n"
	"                      socket, [kbc] (required), [aa], [image], [[credentials]], and ccpull's\n"
	"                      [ccpull] forward_socket = \"unix:///PATH\". Without it: the kernel command\n"
	"                      line's agent.* image keys and agent.aa_kbc_params, as CDH\n"
	"  -q, --quiet         no log line per request\n"
	"  -h, --help          this text\n"
	"  -V, --version       ccpull's version\n"
	"\n"
	"As CDH: AA_KBC_PARAMS=<kbc>::<url> overrides [kbc] (cc_kbc: the Trustee KBS at url;\n"
	"offline_fs_kbc: /etc/aa-offline_fs_kbc-resources.json); the kernel command line's\n"
	"cdh.kbs_resources=URI::PATH,... and [[credentials]] are fetched before the socket is served and\n"
	"written to their paths (under /run/confidential-containers/cdh/kbs/); without\n"
	"image_security_policy_uri (or _policy) every image is accepted, signatures unchecked (said once\n"
	"in the log); layers live under [image] work_dir (default /run/kata-containers/image), opened at\n"
	"the first pull; a failed pull is answered INTERNAL with CDH's message (\"[CDH] [ERROR]: Image Pull\n"
	"error: Image policy rejected: Denied by policy: ...\"); OCICRYPT_KEYPROVIDER_CONFIG names the\n"
	"keyproviders for encrypted layers; [kbc] kbs_cert is trusted besides the system's roots;\n"
	"image_pull_proxy is not used for the KBS. A method ccpull does not serve\n"
	"(api.SecureMountService/SecureMount, ...) is forwarded to [ccpull] forward_socket when set, else\n"
	"answered UNIMPLEMENTED.\n"
	"CCPULL_KERNEL_CMDLINE=PATH reads another file instead of /proc/cmdline.\n"
	"\n"
	"See ccpull(1), CDH MODE.\n";

/*
 * CDH mode: image_pull_proxy is for the registries (image-rs sets it on its own client), never for
 * the KBS. libcurl takes the proxies from the environment for every client, so the KBS's host is
 * added to no_proxy. 0, or -1 after a message.
 */
static int kbs_bypasses_proxy(const char *kbs)
{
	const char *p = kbs ? strstr(kbs, "://") : NULL, *old = getenv("no_proxy") ? getenv("no_proxy") : getenv("NO_PROXY");
	char host[256], list[4096];
	size_t n;

	if (!p || (!getenv("https_proxy") && !getenv("http_proxy") && !getenv("HTTPS_PROXY") && !getenv("ALL_PROXY") &&
		   !getenv("all_proxy")))
		return 0;
	p += 3;
	if (*p == '[') {  /* [v6]:port */
		p++;
		n = strcspn(p, "]");
	} else {
		n = strcspn(p, ":/?#");
	}
	if (!n || n >= sizeof(host))
		return 0;
	memcpy(host, p, n);
	host[n] = '\0';
	if ((size_t)snprintf(list, sizeof(list), "%s%s%s", old && *old ? old : "", old && *old ? "," : "", host) >=
	    sizeof(list) || setenv("no_proxy", list, 1) != 0) {
		fprintf(stderr, "ccpull cdh: cannot exclude the KBS %s from the proxy\n", host);
		return -1;
	}
	return 0;
}

int cmd_cdh(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	cli_image_opts img;
	svc_config cfg = { 0 };
	const char *config = NULL, *socket_path;
	ccp_context *ctx = NULL;
	sigset_t sigs;
	int ch, listen_fd, sig_fd, r = 1;

	cli_image_opts_init(&img);
	ccp_svc_set_log_name("ccpull cdh");
	optind = 1;
	while ((ch = cli_getopt(argc, argv, "c:qhV", opts, "cdh")) != -1) {
		switch (ch) {
		case 'c': config = optarg; break;
		case 'q': cfg.quiet = 1; break;
		case 'h': fputs(cdh_usage, stdout); return 0;
		case 'V': printf("ccpull %s (as the Confidential Data Hub)\n", ccp_version()); return 0;
		default: cli_usage_error("cdh", "unknown option");
		}
	}
	if (optind < argc)
		cli_usage_error("cdh", "takes no operands, got \"%.200s\"", argv[optind]);
	if (ccp_context_new(&ctx) != 0) {
		fprintf(stderr, "ccpull cdh: out of memory\n");
		goto out;
	}
	r = ccp_config_load_cdh(&img.config, ctx, config, getenv("CCPULL_KERNEL_CMDLINE"), getenv("AA_KBC_PARAMS"));
	if (r == 0)
		r = ccp_config_apply(img.config, ctx, &img.pull);
	if (r != 0) {
		fprintf(stderr, "ccpull cdh: %s\n", ccp_context_last_error(ctx));
		r = ccp_exit_status(r);
		goto out;
	}
	r = 1;
	for (size_t i = 0; i < 3; i++) {
		static const char *const proxies[] = { "https_proxy", "http_proxy", "no_proxy" };
		const char *v = ccp_config_proxy(img.config, proxies[i]);
		if (v && setenv(proxies[i], v, 1) != 0) {
			fprintf(stderr, "ccpull cdh: cannot set %s\n", proxies[i]);
			goto out;
		}
	}
	if (kbs_bypasses_proxy(img.pull.kbs.url) != 0)
		goto out;
	cfg.pull = &img.pull;
	cfg.cdh = 1;
	/*
	 * The store under work_dir never outlives the VM (tmpfs, or trusted storage formatted at boot):
	 * syncing it would only make every layer wait for the disk. [image] store_sync = "full" says otherwise.
	 */
	if (img.pull.store.sync == CCP_STORE_SYNC_DEFAULT)
		img.pull.store.sync = CCP_STORE_SYNC_NONE;
	cfg.forward_socket = ccp_config_forward_socket(img.config);
	cfg.skip_sealed_secret_verification = ccp_config_skip_sealed_secret_verification(img.config);
	cfg.aa_socket = img.pull.kbs.aa_socket ? img.pull.kbs.aa_socket : DEFAULT_AA_SOCKET;
	socket_path = ccp_config_socket(img.config) ? ccp_config_socket(img.config) : DEFAULT_SOCKET;
	/* image-rs: no image_security_policy_uri, no verification */
	if (!img.pull.trust.policy) {
		img.pull.trust.insecure_policy = 1;
		ccp_svc_warn("no image_security_policy_uri configured: image signatures are not checked, every image "
			 "is accepted (as the Confidential Data Hub)");
	}
	/* as CDH: the credentials are in place before the socket is served */
	if (ccp_config_credential_count(img.config)) {
		if ((r = ccp_config_fetch_credentials(img.config, ctx, &img.pull)) != 0) {
			fprintf(stderr, "ccpull cdh: %s\n", ccp_context_last_error(ctx));
			r = ccp_exit_status(r);
			goto out;
		}
		ccp_svc_log(&cfg, "%zu credential(s) fetched and written", ccp_config_credential_count(img.config));
		r = 1;
	}

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &sigs, NULL) != 0 || (sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC)) < 0) {
		fprintf(stderr, "ccpull cdh: signalfd: %s\n", strerror(errno));
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((listen_fd = bind_socket(socket_path)) < 0) {
		close(sig_fd);
		goto out;
	}
	ccp_svc_log(&cfg, "ccpull %s serving as the Confidential Data Hub on %s%s%s", ccp_version(), socket_path,
		cfg.forward_socket ? "; other methods forwarded to " : "",
		cfg.forward_socket ? cfg.forward_socket : "");
	r = ccp_svc_run(listen_fd, sig_fd, &cfg) == 0 ? 0 : 1;
	close(sig_fd);
	unlink(socket_path);
out:
	cli_image_opts_free(&img);
	ccp_context_free(ctx);
	return r;
}
