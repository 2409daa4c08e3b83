from ohm.cli import main

if __name__ == "__main__":  # also imported by worker processes (ohm.offload), which must not run the CLI
    main()
