def triple(n):
    return 3 * n
