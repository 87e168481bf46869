impl = 1
