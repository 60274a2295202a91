"""The emulator's WebSocket server side (RFC 6455), tested with a real client library.

The server is the emulator's own HTTP layer (server.HttpServer) in front of a tiny stand-in API
whose one route upgrades to an echo session, so these tests cover the handshake as the HTTP layer
sends it, and the frames as ``websocket-client`` writes and reads them.
"""
from __future__ import annotations

import socket
import struct
import threading

import pytest
import websocket as wsclient

from labkit.kubesim import websocket as ws
from labkit.kubesim.routing import Request, Response, json_response
from labkit.kubesim.server import HttpServer


class _Store:
    def close_watches(self) -> None:
        pass


class EchoApi:
    """Answers ``/echo`` with a WebSocket that echoes each message back with its opcode."""

    stopping = False
    store = _Store()

    def __init__(self) -> None:
        self.seen: list[tuple[int, bytes]] = []
        self.close_codes: list[int | None] = []

    def handle(self, req: Request) -> Response:
        shake = ws.handshake_headers(req.headers, ["v5.channel.k8s.io", "v4.channel.k8s.io", ""])
        if shake is None:
            return json_response({"kind": "Status", "status": "Failure", "code": 400}, 400)
        headers, protocol = shake

        def session(rfile, wfile) -> None:
            sock = ws.WebSocket(rfile, wfile)
            sock.send(protocol.encode(), binary=False)
            while True:
                msg = sock.recv()
                if msg is None:
                    break
                self.seen.append(msg)
                opcode, data = msg
                if data == b"close-me":
                    sock.close(4000, "asked to")
                    break
                sock.send(data, binary=opcode == ws.BINARY)
            self.close_codes.append(sock.close_code)
        return Response(101, headers=headers, upgrade=session)


@pytest.fixture(scope="module")
def server():
    api = EchoApi()
    http = HttpServer(api).start()  # type: ignore[arg-type]
    yield http, api
    http.stop()


def _connect(server, protocols=("v5.channel.k8s.io",)) -> wsclient.WebSocket:
    http, _ = server
    return wsclient.create_connection(f"ws://127.0.0.1:{http.port}/echo", subprotocols=list(protocols), timeout=5)


def test_accept_key_is_the_rfc_example():
    assert ws.accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_handshake_picks_the_clients_first_allowed_protocol_and_refuses_others():
    base = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version": "13"}
    headers, chosen = ws.handshake_headers({**base, "Sec-WebSocket-Protocol": "v5.channel.k8s.io, v4.channel.k8s.io"},
                                           ["v4.channel.k8s.io", "v5.channel.k8s.io"])
    assert chosen == "v5.channel.k8s.io" and headers["Sec-WebSocket-Protocol"] == "v5.channel.k8s.io"
    assert headers["Sec-WebSocket-Accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert ws.handshake_headers({**base, "Sec-WebSocket-Protocol": "x"}, ["v4.channel.k8s.io"]) is None
    assert ws.handshake_headers({k: v for k, v in base.items() if k != "Upgrade"}, [""]) is None
    headers, chosen = ws.handshake_headers(base, [""])
    assert chosen == "" and "Sec-WebSocket-Protocol" not in headers


def test_text_and_binary_messages_round_trip_with_the_chosen_protocol(server):
    conn = _connect(server, ("nope", "v4.channel.k8s.io"))
    assert conn.getsubprotocol() == "v4.channel.k8s.io"
    assert conn.recv() == "v4.channel.k8s.io"
    conn.send("héllo")
    assert conn.recv() == "héllo"
    conn.send_binary(b"\x00\x01\xff")
    op, data = conn.recv_data()
    assert (op, data) == (wsclient.ABNF.OPCODE_BINARY, b"\x00\x01\xff")
    conn.close()


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 300_000])
def test_payload_lengths_of_every_length_encoding(server, size):
    conn = _connect(server)
    conn.recv()
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    conn.send_binary(payload)
    assert conn.recv_data()[1] == payload
    conn.close()


def test_fragmented_message_with_a_ping_in_between_is_reassembled_and_the_ping_answered(server):
    conn = _connect(server)
    conn.recv()
    conn.send_frame(wsclient.ABNF.create_frame(b"frag", wsclient.ABNF.OPCODE_TEXT, fin=0))
    conn.ping(b"are you there")
    conn.send_frame(wsclient.ABNF.create_frame(b"men", wsclient.ABNF.OPCODE_CONT, fin=0))
    conn.send_frame(wsclient.ABNF.create_frame(b"ted", wsclient.ABNF.OPCODE_CONT, fin=1))
    op, frame = conn.recv_data_frame(control_frame=True)
    assert op == wsclient.ABNF.OPCODE_PONG and frame.data == b"are you there"
    assert conn.recv() == "fragmented"
    conn.close()


def test_client_close_is_answered_and_its_code_seen(server):
    _, api = server
    conn = _connect(server)
    conn.recv()
    conn.close(status=wsclient.STATUS_GOING_AWAY)  # waits for the server's answering close frame
    for _ in range(250):
        if 1001 in api.close_codes:
            break
        threading.Event().wait(0.02)
    assert 1001 in api.close_codes


def test_server_close_sends_code_and_reason(server):
    conn = _connect(server)
    conn.recv()
    conn.send("close-me")
    op, frame = conn.recv_data_frame(control_frame=True)
    assert op == wsclient.ABNF.OPCODE_CLOSE
    assert struct.unpack("!H", frame.data[:2])[0] == 4000 and frame.data[2:] == b"asked to"
    conn.shutdown()


def test_an_unmasked_client_frame_is_a_protocol_error(server):
    http, _ = server
    raw = socket.create_connection(("127.0.0.1", http.port), timeout=5)
    raw.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    reply = b""
    while b"\r\n\r\n" not in reply:
        reply += raw.recv(4096)
    head, _, rest = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101") and b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head
    raw.sendall(b"\x81\x02hi")  # a text frame without the mask bit
    data = rest
    while True:
        chunk = raw.recv(4096)
        if not chunk:
            break
        data += chunk
    # the greeting (a text frame, empty protocol), then a close frame with 1002
    assert data[:2] == b"\x81\x00"
    assert data[2] == 0x88 and struct.unpack("!H", data[4:6])[0] == 1002
    raw.close()


def test_not_an_upgrade_is_refused_before_switching(server):
    http, _ = server
    import urllib.request
    import urllib.error
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"http://127.0.0.1:{http.port}/echo", timeout=5)
    assert err.value.code == 400
