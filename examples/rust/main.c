#include <stdint.h>
#include <stdio.h>

uint64_t rust_sum_of_squares(uint32_t n);

int main(void) {
    printf("sum of squares 1..10 = %llu (from Rust)\n", (unsigned long long)rust_sum_of_squares(10));
    return 0;
}
