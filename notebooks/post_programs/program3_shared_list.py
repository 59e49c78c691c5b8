"""Program 3 of the 2016 post, re-created for this course: eight workers print a global list.

A re-creation from what the post's program does, not its code. Kept from the post on
purpose, as lesson 07 (sections 2 and 3) runs it: the pool of 8 workers starts BEFORE the
read-only list exists, the million tasks go out through map_async, and nothing ever calls
.get() on its result. Guess what it prints before you run it.

Run it from this folder: python program3_shared_list.py
"""

from multiprocessing import Pool


def show(i):
    print(read_only_list[i])


if __name__ == "__main__":
    pool = Pool(8)
    read_only_list = [0] * 1000000
    numbers = list(range(1000000))
    pool.map_async(show, numbers)
    pool.close()
    pool.join()
