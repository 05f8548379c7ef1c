#pragma once

/* Writes the greeting for `name` to stdout. */
void greet(const char *name);
