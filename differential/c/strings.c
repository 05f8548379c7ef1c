#include <stdio.h>
#include <string.h>
#include <ctype.h>
int main(void) {
    char buf[64] = "Differential Testing";
    size_t n = strlen(buf);
    for (size_t i = 0; i < n / 2; i++) { char t = buf[i]; buf[i] = buf[n - 1 - i]; buf[n - 1 - i] = t; }
    printf("%s|%zu\n", buf, n);
    for (char *p = buf; *p; p++) *p = (char)toupper((unsigned char)*p);
    printf("%s|%d\n", buf, strcmp("abc", "abd") < 0);
    char out[32];
    snprintf(out, sizeof out, "%08.3f|%-5s|%x", 3.14159, "ab", 48879);
    puts(out);
    return 0;
}
