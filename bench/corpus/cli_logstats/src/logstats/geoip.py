"""Region lookup by address prefix; the prefix table is derived when the module is imported."""
import hashlib

_REGIONS = ("eu-west", "eu-north", "us-east", "us-west", "ap-south", "ap-east", "sa-east")


def _prefix_table():
    table = {}
    for a in range(10, 12):
        for b in range(256):
            for c in range(0, 256, 2):
                key = "%d.%d.%d" % (a, b, c)
                # a stable region per prefix, from a key-stretched digest
                digest = key.encode()
                for _ in range(11):
                    digest = hashlib.sha256(digest).digest()
                table[key] = _REGIONS[digest[0] % len(_REGIONS)]
    return table


PREFIXES = _prefix_table()


def region_of(host):
    prefix = host.rsplit(".", 1)[0]
    return PREFIXES.get(prefix, "unknown")
