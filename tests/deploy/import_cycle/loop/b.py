import loop.a

b = loop.a
