from hyperwatt.cli import main

main()
