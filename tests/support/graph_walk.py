"""The recorded graph behind some tensors, for tests that look at its nodes."""


def graph_nodes(*roots):
    """Every Function node behind ``roots`` (tensors), each once, by an iterative walk."""
    seen, stack, nodes = set(), [r._ctx for r in roots if r._ctx is not None], []
    while stack:
        fn = stack.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        nodes.append(fn)
        stack.extend(p for p, i in fn.parents if p is not None and i >= 0)
    return nodes
