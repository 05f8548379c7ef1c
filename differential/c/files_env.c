#include <stdio.h>
#include <stdlib.h>
/* Every lane sees its current directory (natively, or as the WASI preopen of "."):
   write a file there and read it back; the environment passes through too. */
int main(void) {
    FILE *f = fopen("scratch.txt", "w");
    if (!f) { puts("cannot create a file in the current directory"); return 1; }
    for (int i = 0; i < 5; i++) fprintf(f, "line %d\n", i);
    fclose(f);
    f = fopen("scratch.txt", "r");
    int lines = 0, c;
    while ((c = fgetc(f)) != EOF) lines += c == '\n';
    fclose(f);
    remove("scratch.txt");
    const char *tz = getenv("TZ");
    printf("%d lines, TZ=%s\n", lines, tz ? tz : "(unset)");
    return 0;
}
