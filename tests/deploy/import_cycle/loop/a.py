def f():
    import loop.b

    return loop.b
