from modalkit.cli import main

main()
