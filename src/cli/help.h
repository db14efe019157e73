/*
 * The help texts' shared pieces: the command list and the option groups that `ccpull --help` and
 * each command's --help are made of, so that the two cannot say different things.
 */
#ifndef CCP_CLI_HELP_H
#define CCP_CLI_HELP_H

#define HELP_COMMANDS \
	"Commands:\n" \
	"  pull [OPTIONS] IMAGE BUNDLE   pull IMAGE and create BUNDLE/rootfs and BUNDLE/config.json\n" \
	"                                (BUNDLE holds neither yet; one pull at a time into it)\n" \
	"  inspect [OPTIONS] IMAGE       show an image's manifest digest, platforms and config (no layers)\n" \
	"  verify [OPTIONS] IMAGE        evaluate the signature policy for IMAGE and show what was checked\n" \
	"  umount BUNDLE                 unmount an overlay bundle and remove its writable state\n" \
	"  serve [--socket PATH] [OPTIONS]   serve kata-agent's ttrpc ImagePullService (see serve --help)\n" \
	"  cdh [-c FILE]                 be the Confidential Data Hub kata-agent starts (see cdh --help);\n" \
	"                                also when run as confidential-data-hub\n" \
		"  store ls [--store DIR] [--json]   images, layers (sizes, in use or not), mounted bundles, staging\n" \
	"  store rm [--store DIR] IMAGE  forget an image (reference or manifest digest); layers go at gc\n" \
	"  store gc [--store DIR] [--json]   remove layers no image or mounted bundle uses, and leftovers\n" \
	"                                (staging of killed pulls), saying the bytes freed\n" \
	"SIGINT or SIGTERM stops a command, removes what a pull made and exits 130 or 143.\n"

#define HELP_IMAGE_OPTIONS \
	"  --insecure-policy          accept any image without evaluating a signature policy\n" \
	"  --policy PATH              containers-policy.json to enforce (default /etc/containers/policy.json)\n" \
	"  --tls-verify=false         do not verify TLS certificates; allow plain HTTP to the registry\n" \
	"  --ca-file PATH             extra CA certificates (PEM) trusted for registries\n" \
	"  --registries-conf PATH     registries.conf (default /etc/containers/registries.conf if present)\n" \
	"  --registries-d DIR         registries.d: where signatures are looked up (default /etc/containers/registries.d)\n" \
	"                             (a lookaside store: at most 128 signatures, 16 MiB in all, within --timeout;\n" \
	"                             each checked as it arrives, none read once the policy is met)\n" \
	"  --authfile PATH            containers-auth.json with registry credentials\n" \
	"  --creds USER:PASSWORD      credentials for the registry (override --authfile)\n" \
	"  --platform OS/ARCH[/VAR]   platform to pick from a multi-platform image (default: this machine);\n" \
	"                             a pull of a single-platform image for another platform fails (exit 4)\n" \
	"  --config PATH              ccpull.toml: the Confidential Data Hub's config ([image], [kbc]);\n" \
	"                             options given on the command line win over the file\n" \
	"  --json                     print the result as one JSON object on stdout\n" \
	"  --retry-times N            retry a failed registry request up to N times (default 3, at most 20)\n" \
	"  --timeout SECONDS          give up when the whole pull or inspect takes longer, whatever it is\n" \
	"                             doing (default: no limit; exit 9 outside registry and KBS exchanges)\n"

#define HELP_LAYER_OPTIONS \
	"  --store DIR                layer store (default /run/ccpull/store); layers are reused across pulls\n" \
	"  --snapshotter overlay|copy BUNDLE/rootfs as an overlay mount of the store's layers (the default\n" \
	"                             as root when the kernel has overlayfs) or as a plain directory\n" \
	"  --keep-layers=false        the store is only read: the bottom layers it holds are copied from it,\n" \
	"                             the others unpacked into BUNDLE/rootfs and not kept (copy snapshotter;\n" \
	"                             the data is written once, not into the store and then copied)\n" \
	"  --store-sync none|full     what a layer's commit guarantees: none (default on tmpfs): whole layers\n" \
	"                             before they are visible, as long as the machine runs; full (default\n" \
	"                             elsewhere): also on the disk first (syncfs), surviving a power loss\n" \
	"  --parallel-layers N        layers fetched and unpacked at once (default: one per CPU, at most 4)\n" \
	"  --parallel-ranges N        a large blob as N Range requests at once, verified in order as one\n" \
	"                             stream (at most 16; default 1: one stream), for registries that\n" \
	"                             cap each connection; N x 4 MiB of memory\n" \
	"  --parallel-ranges-min-mib M  only blobs of at least M MiB (default 128)\n" \
	"  --max-decompression-ratio N  a layer past 512 MiB decompressed may be at most N times its\n" \
	"                             compressed size (default 100; raise for images of sparse files)\n" \
	"  -q, --quiet                no progress output\n" \
	"  --decryption-key jwe:PATH[:PASSWORD] | pkcs7:PATH[:PASSWORD] | pgp:PATH[:PASSWORD] | provider:NAME[:PARAMS]\n" \
	"                             key for encrypted layers (repeatable; every key is tried per layer);\n" \
	"                             pkcs7 needs the private key and its certificate (one file or two specs)\n" \
	"  --keyprovider-config PATH  ocicrypt keyprovider config (default $OCICRYPT_KEYPROVIDER_CONFIG):\n" \
	"                             cmd, grpc, ttrpc and native entries\n"

#define HELP_KBS_OPTIONS \
	"  --kbs URL                  Trustee KBS: kbs:///REPO/TYPE/TAG resources (--policy and its keys,\n" \
	"                             --registries-d, --authfile, --registries-conf, --ca-file) and the CoCo\n" \
	"                             key provider attestation-agent's KEKs are released after attestation\n" \
	"  --attester auto|sample|tdx|snp|aa  evidence for the KBS: tdx and snp through configfs-tsm, aa: the\n" \
	"                             attestation agent's KBS token (GetToken, as CDH); auto: aa when the\n" \
	"                             agent's socket exists, else the TEE device found, else sample\n" \
	"  --aa-socket PATH           the attestation agent's ttrpc socket (default [aa] aa_socket, else\n" \
	"                             /run/confidential-containers/attestation-agent/attestation-agent.sock)\n" \
	"  --kbs-cert PATH            CA certificates (PEM) for the KBS's HTTPS (without it: the system's);\n" \
	"                             plain HTTP only for a --kbs http:// URL\n" \
	"  --kbs-resources FILE       offline kbs:/// resources and KEKs: {\"REPO/TYPE/TAG\": \"<base64>\"}\n" \
	"                             (aa-offline_fs_kbc-resources.json), asked before the KBS or instead of it;\n" \
	"                             a file of that name adds aa-offline_fs_kbc-keys.json beside it and\n" \
	"                             the files of $OFFLINE_FS_KBC_EXTRA_FILE_PATH\n" \
	"  --kbs-key ec|rsa           the KBS session's ephemeral key: EC P-256 (default) or RSA 2048\n"

#define HELP_INSPECT_OPTIONS \
	"  --raw                      print the top-level manifest exactly as verified\n" \
	"  --image-config             print the image config exactly as verified\n"

#define HELP_EXIT_STATUS \
	"Exit status: 0 ok, 1 internal error, 2 usage or invalid configuration, 3 rejected by policy,\n" \
	"4 registry/network/auth, 5 integrity (digest, size, diff_id), 6 decryption or keys,\n" \
	"7 unsafe or malformed layer content, 8 local storage, 9 --timeout ran out outside a registry\n" \
	"or KBS exchange, 130/143 interrupted by SIGINT/SIGTERM (what the pull made is removed).\n"

#endif
