"""Work for child processes: importable by name, so multiprocessing's spawn can find it."""

import sys


def square(x):
    return x * x


if __name__ == "__main__":
    print(square(int(sys.argv[1])))
