from molt_build.entry import main

main()
