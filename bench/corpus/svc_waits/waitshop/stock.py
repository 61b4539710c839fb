"""Stock reservations, made by a pool of workers against one ledger."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

LEDGER = {}
LEDGER_LOCK = threading.Lock()


def reserve(sku):
    """Reserve one unit; the ledger write stands for a slow journal append (2 ms)."""
    with LEDGER_LOCK:
        time.sleep(0.002)
        LEDGER[sku] = LEDGER.get(sku, 0) + 1
    return sku


def reserve_all(skus, workers=4):
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(reserve, skus))
