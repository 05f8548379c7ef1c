#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    printf("argc=%d\n", argc);
    fflush(stdout);
    exit(7);
}
