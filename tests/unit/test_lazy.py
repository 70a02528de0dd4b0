"""The lazy solver import is safe when several threads use it first at once."""

from __future__ import annotations

import threading

from planning.lazy import lazy_import


def test_concurrent_first_use_imports_once_and_works() -> None:
    module = lazy_import("ortools.sat.python.cp_model")
    results: list[object] = []
    start = threading.Barrier(8)

    def use() -> None:
        start.wait()
        results.append(module.CpModel())

    threads = [threading.Thread(target=use) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8
