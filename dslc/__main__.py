"""`python -m dslc`: the same command line as `dslc`."""

from dslc.cli import main

if __name__ == "__main__":
    main()
