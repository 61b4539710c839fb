"""mesh: vertex meshes and what to compute on them."""
from .grid import Mesh
from .regions import staircase_count, walk_from
from .dense import distance_matrix
from .shading import shade
from .stats import degree_counts

__all__ = ["Mesh", "walk_from", "staircase_count", "distance_matrix", "shade", "degree_counts"]
