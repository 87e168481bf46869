from . import beta

a = beta
