from ohm.cli import main

main()
