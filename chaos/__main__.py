"""`python -m chaos` is the `fleetchaos` command."""
from chaos.cli import main

if __name__ == "__main__":
    main()
