xs = [5, 3, 8, 1, 9, 2]
xs.append(7); xs.insert(0, 0); xs.extend([4, 6])
print(xs, len(xs), xs.index(8), xs.pop(), xs.pop(0))
xs.sort(); print(xs)
xs.sort(reverse=True); print(xs)
xs.remove(9); del xs[1:3]; print(xs)
ys = xs[:]; ys[0] = 100; print(xs[0], ys[0])
print([1, 2] * 3, [[0] * 2 for _ in range(2)], list(reversed(xs)), min(xs), max(xs), sum(xs))
m = [[1, 2, 3], [4, 5, 6]]
print([list(r) for r in zip(*m)])
