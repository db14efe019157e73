#!/usr/bin/python3
"""A keyprovider speaking ocicrypt's keyprovider protocol over gRPC (the "grpc" transport).

  keyprovider_grpc.py KEK_FILE PORT_FILE [--log FILE] [--array] [--deny] [--garbage]

Serves keyprovider.KeyProviderService/UnWrapKey on 127.0.0.1 (a free port, written to PORT_FILE) with
a generic handler: the one-field protobuf messages (bytes field 1 holding the protocol JSON) are
encoded by hand. keyunwrap opens ocicrypt_encrypt.py's packet like keyprovider.py does. --array
answers optsdata as a JSON array of numbers (the Rust implementation's form) instead of base64;
--deny answers PERMISSION_DENIED with a message; --garbage answers a message that is not protobuf.
A KEK that does not open the packet: FAILED_PRECONDITION. Each request (minus the annotation) is
appended to the --log file as one JSON line. Runs until killed.
"""
import argparse
import base64
import json
import os
import signal
import sys
from concurrent import futures

import grpc
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def field1(msg):
    """The bytes of field 1 of a message (skips nothing else: the input has only that field)."""
    if not msg:
        return b""
    if msg[0] != 0x0A:
        raise ValueError("not field 1 / bytes")
    n, shift, i = 0, 0, 1
    while True:
        c = msg[i]
        n |= (c & 0x7F) << shift
        shift += 7
        i += 1
        if not c & 0x80:
            break
    if i + n != len(msg):
        raise ValueError("bad length")
    return msg[i:i + n]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kek")
    ap.add_argument("port_file")
    ap.add_argument("--log")
    ap.add_argument("--array", action="store_true")
    ap.add_argument("--deny", action="store_true")
    ap.add_argument("--garbage", action="store_true")
    a = ap.parse_args()
    with open(a.kek, "rb") as f:
        kek = f.read()

    def unwrap(request, context):
        req = json.loads(field1(request))
        if a.log:
            with open(a.log, "a") as f:
                logged = dict(req)
                logged["keyunwrapparams"] = dict(req.get("keyunwrapparams", {}), annotation="...")
                f.write(json.dumps(logged) + "\n")
        if a.deny:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, "test keyprovider: denied 100% by policy")
        if a.garbage:
            return b"\x0a\xff\xff\xff\xff\x0f"
        if req.get("op") != "keyunwrap":
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "unsupported op %r" % req.get("op"))
        packet = json.loads(base64.b64decode(req["keyunwrapparams"]["annotation"]))
        try:
            opts = AESGCM(kek).decrypt(base64.b64decode(packet["iv"]), base64.b64decode(packet["wrapped_data"]), None)
        except Exception:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                          "test keyprovider: KEK %s does not open the packet" % packet.get("kid"))
        optsdata = list(opts) if a.array else base64.b64encode(opts).decode()
        answer = json.dumps({"keyunwrapresults": {"optsdata": optsdata}}).encode()
        return b"\x0a" + varint(len(answer)) + answer

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "keyprovider.KeyProviderService", {"UnWrapKey": grpc.unary_unary_rpc_method_handler(unwrap)}),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    with open(a.port_file + ".tmp", "w") as f:
        f.write("%d\n" % port)
    os.rename(a.port_file + ".tmp", a.port_file)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.wait_for_termination()


if __name__ == "__main__":
    main()
