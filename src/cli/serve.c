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
#include "service/service.h"

#define DEFAULT_SOCKET "/run/confidential-containers/cdh.sock"
#define DEFAULT_AA_SOCKET "/run/confidential-containers/attestation-agent/attestation-agent.sock"
#define SD_LISTEN_FDS_START 3

int cmd_serve(int argc, char **argv);

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
	"After each successful pull, when the attestation agent's socket exists ([aa] aa_socket, default\n"
	DEFAULT_AA_SOCKET "),\n"
	"the pull is recorded in the runtime measurement (domain github.com/confidential-containers,\n"
	"operation PullImage, content {\"image\":..., \"digest\":...}), as CDH does; when that fails, the\n"
	"pull fails.\n"
	"\n"
	"Options applied to every pull (as for ccpull pull):\n"
	"  --insecure-policy, --policy PATH, --tls-verify=false, --ca-file PATH, --registries-conf PATH,\n"
	"  --registries-d DIR, --authfile PATH, --creds USER:PASS, --platform OS/ARCH[/VARIANT],\n"
	"  --store DIR, --snapshotter overlay|copy\n"
	"\n"
	"See ccpull(1), SERVE.\n";

static void __attribute__((noreturn)) serve_usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "ccpull: %s%s%s\nTry 'ccpull serve --help' for more information.\n", what, arg ? " " : "",
		arg ? arg : "");
	exit(2);
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

/*
 * --config, or the kernel command line as CDH reads it without one: fills what the options left
 * unset, exports the proxies for libcurl (before any thread starts) and names the AA socket.
 */
static int load_config(ccp_config **config, ccp_context **ctx, const char *path, ccp_pull_options *pull,
		       svc_config *cfg)
{
	static const char *const proxies[] = { "https_proxy", "http_proxy", "no_proxy" };
	int r;

	if (ccp_context_new(ctx) != 0) {
		fprintf(stderr, "ccpull serve: out of memory\n");
		return -1;
	}
	r = path ? ccp_config_load(config, *ctx, path) : ccp_config_load_cmdline(config, *ctx, NULL);
	if (r == 0)
		r = ccp_config_apply(*config, *ctx, pull);
	if (r != 0) {
		fprintf(stderr, "ccpull serve: %s\n", ccp_context_last_error(*ctx));
		return -1;
	}
	for (size_t i = 0; i < sizeof(proxies) / sizeof(proxies[0]); i++) {
		const char *v = ccp_config_proxy(*config, proxies[i]);
		if (v && setenv(proxies[i], v, 1) != 0) {
			fprintf(stderr, "ccpull serve: cannot set %s\n", proxies[i]);
			return -1;
		}
	}
	cfg->aa_socket = ccp_config_aa_socket(*config) ? ccp_config_aa_socket(*config) : DEFAULT_AA_SOCKET;
	return 0;
}

enum {
	S_SOCKET = 256, S_MAX_CONNECTIONS, S_MAX_REQUESTS, S_INSECURE_POLICY, S_POLICY, S_TLS_VERIFY, S_CA_FILE,
	S_REGISTRIES_CONF, S_REGISTRIES_D, S_AUTHFILE, S_CREDS, S_PLATFORM, S_STORE, S_SNAPSHOTTER, S_HELP,
	S_CONFIG
};

int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, S_SOCKET },
		{ "max-connections", required_argument, NULL, S_MAX_CONNECTIONS },
		{ "max-requests", required_argument, NULL, S_MAX_REQUESTS },
		{ "quiet", no_argument, NULL, 'q' },
		{ "insecure-policy", no_argument, NULL, S_INSECURE_POLICY },
		{ "policy", required_argument, NULL, S_POLICY },
		{ "tls-verify", optional_argument, NULL, S_TLS_VERIFY },
		{ "ca-file", required_argument, NULL, S_CA_FILE },
		{ "registries-conf", required_argument, NULL, S_REGISTRIES_CONF },
		{ "registries-d", required_argument, NULL, S_REGISTRIES_D },
		{ "authfile", required_argument, NULL, S_AUTHFILE },
		{ "creds", required_argument, NULL, S_CREDS },
		{ "platform", required_argument, NULL, S_PLATFORM },
		{ "store", required_argument, NULL, S_STORE },
		{ "snapshotter", required_argument, NULL, S_SNAPSHOTTER },
		{ "help", no_argument, NULL, S_HELP },
		{ "config", required_argument, NULL, S_CONFIG },
		{ NULL, 0, NULL, 0 }
	};
	ccp_pull_options pull;
	svc_config cfg = { 0 };
	const char *socket_path = DEFAULT_SOCKET, *config_path = NULL;
	ccp_context *ctx = NULL;
	ccp_config *config = NULL;
	unsigned long n;
	sigset_t sigs;
	int ch, listen_fd, sig_fd, r;

	ccp_pull_options_init(&pull, CCP_PULL_OPTIONS_VERSION);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "+q", opts, NULL)) != -1) {
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
		case S_INSECURE_POLICY: pull.insecure_policy = 1; break;
		case S_POLICY: pull.policy = optarg; break;
		case S_TLS_VERIFY:
			if (!optarg || strcmp(optarg, "true") == 0)
				pull.tls_verify = 1;
			else if (strcmp(optarg, "false") == 0)
				pull.tls_verify = 0;
			else
				serve_usage_error("--tls-verify expects true or false, not", optarg);
			break;
		case S_CA_FILE: pull.ca_file = optarg; break;
		case S_REGISTRIES_CONF: pull.registries_conf = optarg; break;
		case S_REGISTRIES_D: pull.registries_d = optarg; break;
		case S_AUTHFILE: pull.authfile = optarg; break;
		case S_CREDS: pull.creds = optarg; break;
		case S_PLATFORM: pull.platform = optarg; break;
		case S_STORE: pull.store = optarg; break;
		case S_SNAPSHOTTER:
			if (strcmp(optarg, "copy") == 0)
				pull.snapshotter = CCP_SNAPSHOTTER_COPY;
			else if (strcmp(optarg, "overlay") == 0)
				pull.snapshotter = CCP_SNAPSHOTTER_OVERLAY;
			else
				serve_usage_error("unknown snapshotter (copy or overlay):", optarg);
			break;
		case S_HELP: fputs(serve_usage, stdout); return 0;
		case S_CONFIG: config_path = optarg; break;
		default: serve_usage_error("invalid option", NULL);
		}
	}
	if (optind != argc)
		serve_usage_error("serve takes no arguments, got", argv[optind]);
	cfg.pull = &pull;
	if (load_config(&config, &ctx, config_path, &pull, &cfg) != 0) {
		r = 2;
		goto out;
	}

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
	svc_log(&cfg, "ccpull %s serving api.ImagePullService on %s", ccp_version(),
		socket_path ? socket_path : "the socket passed by systemd");
	r = svc_run(listen_fd, sig_fd, &cfg) == 0 ? 0 : 1;
	close(sig_fd);
	if (socket_path)
		unlink(socket_path);
out:
	ccp_config_free(config);
	ccp_context_free(ctx);
	return r;
}
