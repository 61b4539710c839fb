import socket
import socketserver
import threading
import time

import pytest


class QuoteHandler(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            time.sleep(0.002)  # the quote service's own latency
            sku = line.strip().decode()
            self.wfile.write(("%s %.2f\n" % (sku, 10 + len(sku))).encode())


@pytest.fixture(scope="session")
def quote_service():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), QuoteHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address
    while True:  # wait until it answers: the harness's own waiting
        try:
            socket.create_connection((host, port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.01)
    yield host, port
    server.shutdown()
