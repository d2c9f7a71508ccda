from workers.cli.commands import main

main()
