import math


def distance_matrix(points):
    """All pairwise distances as a list of rows."""
    return [[math.dist(p, q) for q in points] for p in points]
