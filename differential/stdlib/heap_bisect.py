import heapq, bisect
h = [5, 1, 8, 3, 2]
heapq.heapify(h)
print([heapq.heappop(h) for _ in range(3)], heapq.nlargest(2, [4, 9, 1, 7]), heapq.nsmallest(2, "zebra"))
print(list(heapq.merge([1, 4, 7], [2, 5, 8])))
xs = [1, 3, 3, 5, 9]
print(bisect.bisect_left(xs, 3), bisect.bisect_right(xs, 3), bisect.bisect(xs, 6))
bisect.insort(xs, 4)
print(xs)
