from ecsram.cli import main

main()
