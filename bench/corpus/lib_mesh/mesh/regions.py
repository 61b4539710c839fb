def walk_from(mesh, start=0):
    """Vertices reachable from start, in breadth-first order."""
    seen = [False] * mesh.n
    seen[start] = True
    frontier = [start]
    order = []
    while frontier:
        v = frontier.pop(0)
        order.append(v)
        for w in mesh.adj[v]:
            if not seen[w]:
                seen[w] = True
                frontier.append(w)
    return order


def staircase_count(steps, largest=3):
    """Ways to climb `steps` stairs taking 1 to `largest` at a time."""
    if steps == 0:
        return 1
    return sum(staircase_count(steps - k, largest) for k in range(1, largest + 1) if k <= steps)
