#include <stdio.h>
#include <math.h>
struct point { double x, y; };
static double dist(struct point a, struct point b) { return sqrt((a.x - b.x) * (a.x - b.x) + (a.y - b.y) * (a.y - b.y)); }
int main(void) {
    struct point pts[4] = {{0, 0}, {3, 4}, {6, 8}, {-1.5, 2.25}};
    double total = 0;
    for (int i = 1; i < 4; i++) total += dist(pts[i - 1], pts[i]);
    printf("%.6f %.3e %g\n", total, total * 1e10, fmod(total, 3.0));
    printf("%d %d %u\n", (int)sizeof(struct point), -7 / 2, (unsigned)-1 % 1000);
    return 0;
}
