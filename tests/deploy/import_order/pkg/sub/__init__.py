# gathers its module: the module goes before this __init__
from pkg.sub.leaf import leaf_thing

__all__ = ["leaf_thing"]
