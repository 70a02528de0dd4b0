"""Graph helpers shared by BOM validation and planning: cycle detection with the cycle's path."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def find_cycle(edges: Mapping[str, Iterable[str]]) -> list[str] | None:
    """A cycle in ``parent → children`` as a path with the first node repeated last, or None.

    Iterative depth-first search (deep BOMs must not hit the recursion limit); nodes are visited
    in sorted order so the reported path is deterministic.
    """
    white, grey, black = 0, 1, 2
    color: dict[str, int] = {}
    children = {node: sorted(set(kids)) for node, kids in edges.items()}
    for root in sorted(children):
        if color.get(root, white) != white:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = [root]
        color[root] = grey
        while stack:
            node, i = stack[-1]
            kids = children.get(node, [])
            if i < len(kids):
                stack[-1] = (node, i + 1)
                kid = kids[i]
                state = color.get(kid, white)
                if state == grey:
                    return [*path[path.index(kid):], kid]
                if state == white:
                    color[kid] = grey
                    stack.append((kid, 0))
                    path.append(kid)
            else:
                color[node] = black
                stack.pop()
                path.pop()
    return None
