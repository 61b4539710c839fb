"""Price quotes from the quote service, over a plain TCP connection (one line per request)."""
import socket


def fetch_quotes(host, port, skus):
    """Ask the quote service for each SKU, one request and one reply at a time."""
    quotes = {}
    with socket.create_connection((host, port), timeout=5) as sock:
        reader = sock.makefile("rb")
        for sku in skus:
            sock.sendall(sku.encode() + b"\n")
            reply = reader.readline()
            quotes[sku] = float(reply.decode().split()[1])
    return quotes


def fetch_quotes_batched(host, port, skus):
    """The same quotes with every request sent at once: one round trip's wait."""
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(b"".join(s.encode() + b"\n" for s in skus))
        reader = sock.makefile("rb")
        lines = [reader.readline() for _ in skus]
    return {s: float(line.decode().split()[1]) for s, line in zip(skus, lines)}
