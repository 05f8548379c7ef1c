#include <stdio.h>
#include <stdlib.h>
static int cmp(const void *a, const void *b) { int x = *(const int *)a, y = *(const int *)b; return (x > y) - (x < y); }
int main(void) {
    int n = 100000;
    int *v = malloc(sizeof(int) * n);
    unsigned s = 12345;
    for (int i = 0; i < n; i++) { s = s * 1103515245u + 12345u; v[i] = (int)(s >> 8) % 100000; }
    qsort(v, n, sizeof(int), cmp);
    long long sum = 0;
    for (int i = 0; i < n; i += 1000) sum += v[i];
    printf("min=%d max=%d sampled=%lld\n", v[0], v[n - 1], sum);
    free(v);
    return 0;
}
