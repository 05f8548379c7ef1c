#include <stdio.h>
static unsigned long long fib(int n) { return n < 2 ? (unsigned long long)n : fib(n - 1) + fib(n - 2); }
static int ack(int m, int n) { return m == 0 ? n + 1 : n == 0 ? ack(m - 1, 1) : ack(m - 1, ack(m, n - 1)); }
int main(void) {
    printf("fib(30)=%llu ack(2,3)=%d\n", fib(30), ack(2, 3));
    return 0;
}
