from pkg.alpha import a

z = a
