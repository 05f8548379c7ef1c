"""A stand-in for the Molt compiler: the command line of `molt build`, nothing more."""
