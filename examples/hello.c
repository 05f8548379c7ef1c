/* The smallest moltb example: a binary using a library. */
#include "examples/greet.h"

int main(void) {
    greet("moltb");
    return 0;
}
