# gathers its modules, impl only through api: both go before this __init__
from pkg.sub.api import api

__all__ = ["api"]
