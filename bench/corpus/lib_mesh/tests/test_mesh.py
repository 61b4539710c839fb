from mesh import Mesh, degree_counts, distance_matrix, shade, staircase_count, walk_from


def test_walk_a_fan():
    mesh = Mesh.fan(100_000)
    order = walk_from(mesh)
    assert len(order) == 100_001 and order[0] == 0


def test_walk_a_strip():
    assert walk_from(Mesh.strip(1000))[-1] == 999


def test_staircase_count():
    assert staircase_count(21) == 223317


def test_distance_matrix():
    points = [(i % 37, i // 37) for i in range(1100)]
    m = distance_matrix(points)
    assert m[0][0] == 0.0 and len(m) == 1100


def test_shade_and_degrees():
    assert 0.0 < shade(10, 0.5) <= 1.0
    counts = degree_counts(Mesh.fan(5000))
    assert counts[3] == 5000 and counts[5000] == 1
