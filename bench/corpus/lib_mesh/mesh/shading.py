import math

# light falloff for every (distance, angle) step, precomputed when the module is imported
_DIST_STEPS = 900
_ANGLE_STEPS = 1200
_FALLOFF = [[math.exp(-d / 90.0) * max(0.0, math.cos(math.pi * a / _ANGLE_STEPS)) for a in range(_ANGLE_STEPS)]
            for d in range(_DIST_STEPS)]


def shade(distance, angle):
    d = min(int(distance), _DIST_STEPS - 1)
    a = min(int(angle * _ANGLE_STEPS / math.pi), _ANGLE_STEPS - 1)
    return _FALLOFF[d][a]
