"""Program 3, corrected as little as possible, and made to run under every start method.

Lesson 07, section 3 (the corrections table lists each change and why). Compared with
program3_shared_list.py:

1. the read-only list is built before the pool starts, at the top level of the module, so
   that workers have it: forked workers inherit it, spawned ones build it again when they
   import this file;
2. .get() waits for the results and raises the first task error, so errors are not lost;
3. the start method, the kind of list and the number of workers come from the command line,
   so that the lesson can measure each case with the same file.

Run it from this folder: python program3_corrected.py fork post 8
  method: fork, spawn or forkserver
  list:   post (the post's [0] * 1000000), distinct (a million distinct ints), or
          none (range(1000000): the same items printed, no list in memory; the baseline)
"""

import sys
from multiprocessing import get_context

method, kind, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
if kind == "post":
    read_only_list = [0] * 1000000
elif kind == "distinct":
    read_only_list = [1000 + i for i in range(1000000)]
else:
    read_only_list = range(1000000)


def show(i):
    print(read_only_list[i])


if __name__ == "__main__":
    pool = get_context(method).Pool(workers)
    numbers = list(range(1000000))
    pool.map_async(show, numbers).get()
    pool.close()
    pool.join()
