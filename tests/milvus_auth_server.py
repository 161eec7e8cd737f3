"""Milvus Lite's gRPC server behind a token check, for the tests: `milvus-lite server` has no
authentication, so a wrong token could not be tried against it.  This serves the same Milvus Lite
servicer and refuses every call whose credentials are not TOKEN, with the status and message a Milvus
server with authentication gives.

    python tests/milvus_auth_server.py DATA_DIR PORT TOKEN      # prints "listening" when it is
"""
from __future__ import annotations

import base64
import sys
from concurrent import futures

import grpc
from milvus_lite.adapter.grpc.servicer import MilvusServicer
from milvus_lite.db import MilvusLite
from pymilvus.grpc_gen import milvus_pb2_grpc

REFUSED = "auth check failure, please check username and password are correct"


class TokenRequired(grpc.ServerInterceptor):
    """Lets a call through when its `authorization` metadata is the token, as pymilvus sends it
    (base64 of "user:password" or of the token)."""

    def __init__(self, token: str):
        self.expected = base64.b64encode(token.encode()).decode()

    def intercept_service(self, continuation, details):
        if dict(details.invocation_metadata).get("authorization") == self.expected:
            return continuation(details)
        return grpc.unary_unary_rpc_method_handler(
            lambda request, context: context.abort(grpc.StatusCode.UNAUTHENTICATED, REFUSED))


def main(data_dir: str, port: str, token: str) -> None:
    db = MilvusLite(data_dir)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), interceptors=[TokenRequired(token)])
    milvus_pb2_grpc.add_MilvusServiceServicer_to_server(MilvusServicer(db), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    print("listening", flush=True)
    try:
        server.wait_for_termination()
    finally:
        db.close()


if __name__ == "__main__":
    main(*sys.argv[1:4])
