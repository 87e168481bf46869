# names its package in an import of a sibling: no edge to pkg.sub, which gathers this module
from pkg.sub.impl import impl

api = impl
