from collections import Counter


def degree_counts(mesh):
    """How many vertices have each degree."""
    return Counter(len(nbrs) for nbrs in mesh.adj)
