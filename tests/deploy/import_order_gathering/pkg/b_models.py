from typing import TYPE_CHECKING

if TYPE_CHECKING:  # never runs: no edge (with it, a cycle with a_service and the path order)
    from pkg.a_service import service  # noqa: F401


class Model:
    pass
