def thing():
    # a lazy import still has to be there when called
    from pkg.sub import leaf_thing

    return leaf_thing
