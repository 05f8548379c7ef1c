/* Does not compile on any lane: every lane records the same compile error, which is agreement. */
int main(void) { return undeclared_function(1); }
