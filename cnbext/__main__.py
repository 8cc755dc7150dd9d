from cnbext.cli import main

main()
