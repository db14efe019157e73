#!/usr/bin/python3
"""A keyprovider program speaking ocicrypt's keyprovider protocol on stdin/stdout (cmd transport).

  keyprovider.py KEK_FILE [REQUEST_LOG]

keyunwrap: the annotation is ocicrypt_encrypt.py's packet {"kid","iv","wrapped_data"}; the key
options are AES-256-GCM-decrypted with KEK and returned as {"keyunwrapresults":{"optsdata": base64}}.
With REQUEST_LOG each request (minus the annotation) is appended to it as one JSON line, so tests can
check what ccpull sent. A packet the KEK does not open: message on stderr, exit status 1.
"""
import base64
import json
import sys

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

req = json.load(sys.stdin)
if len(sys.argv) > 2:
    with open(sys.argv[2], "a") as f:
        logged = dict(req)
        logged["keyunwrapparams"] = dict(req.get("keyunwrapparams", {}), annotation="...")
        f.write(json.dumps(logged) + "\n")
if req.get("op") != "keyunwrap":
    sys.exit("unsupported op %r" % req.get("op"))
with open(sys.argv[1], "rb") as f:
    kek = f.read()
packet = json.loads(base64.b64decode(req["keyunwrapparams"]["annotation"]))
try:
    opts = AESGCM(kek).decrypt(base64.b64decode(packet["iv"]), base64.b64decode(packet["wrapped_data"]), None)
except Exception:
    sys.exit("test keyprovider: KEK %s does not open the packet" % packet.get("kid"))
json.dump({"keyunwrapresults": {"optsdata": base64.b64encode(opts).decode()}}, sys.stdout)
