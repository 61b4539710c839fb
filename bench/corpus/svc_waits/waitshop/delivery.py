"""Sending order confirmations to a flaky mail gateway."""
import time


class GatewayDown(Exception):
    pass


def send_with_retry(send, message, attempts=6, backoff=0.04):
    """Send, retrying with a growing pause while the gateway is down."""
    for attempt in range(attempts):
        try:
            return send(message)
        except GatewayDown:
            time.sleep(backoff * (attempt + 1))
    raise GatewayDown(message)
