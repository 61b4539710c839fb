class Mesh:
    """Vertices 0..n-1 and the edges between them, as adjacency lists."""

    def __init__(self, n):
        self.n = n
        self.adj = [[] for _ in range(n)]

    def join(self, a, b):
        self.adj[a].append(b)
        self.adj[b].append(a)

    @classmethod
    def fan(cls, rim):
        """A triangle fan: a centre vertex joined to every rim vertex, the rim closed in a ring."""
        mesh = cls(rim + 1)
        for v in range(1, rim + 1):
            mesh.join(0, v)
            mesh.join(v, v % rim + 1)
        return mesh

    @classmethod
    def strip(cls, length):
        """A triangle strip: vertex v joined to v+1 and v+2."""
        mesh = cls(length)
        for v in range(length - 2):
            mesh.join(v, v + 1)
            mesh.join(v, v + 2)
        mesh.join(length - 2, length - 1)
        return mesh
