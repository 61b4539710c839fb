"""Gamma lookup tables for every supported display profile, built when the module is imported."""

_PROFILES = {"srgb": 2.2, "rec709": 2.4, "dci": 2.6, "mac": 1.8, "linear": 1.0}


def _tables():
    tables = {}
    for name, gamma in _PROFILES.items():
        for level in range(60_000):
            x = level / 60_000
            tables[(name, level)] = round(x ** (1.0 / gamma), 6)
    return tables


GAMMA = _tables()


def encode(profile, value):
    return GAMMA[(profile, min(int(value * 60_000), 59_999))]
