#include <stdio.h>

#include "examples/greet.h"

void greet(const char *name) {
    printf("Hello, %s!\n", name);
}
