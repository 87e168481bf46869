leaf_thing = 1
