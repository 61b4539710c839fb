"""Reading access-log lines."""


def parse_line(line):
    """'host method path status bytes' -> a record dict."""
    host, method, path, status, size = line.split()
    return {"host": host, "method": method, "path": path, "status": int(status), "bytes": int(size),
            "tags": {"api": path.startswith("/api/"), "labels": [method.lower(), status[0] + "xx"]}}


def synthetic_log(n_lines, seed=11):
    """A reproducible log of n_lines lines, with a few thousand distinct paths."""
    lines = []
    state = seed
    for _ in range(n_lines):
        state = (state * 1103515245 + 12345) % (1 << 31)
        path = "/api/items/%d" % (state % 2600) if state & 1 else "/static/%d.css" % (state % 1800)
        lines.append("10.0.%d.%d GET %s %d %d" % (state % 7, state % 250, path, 200 if state % 11 else 404, state % 9000))
    return lines
