"""Program 3 with the smallest change that shows its errors: .get() on map_async's result.

Lesson 07, section 2. Identical to program3_shared_list.py but for the one line marked
below: .get() waits for the tasks and raises the first error one of them raised.

Run it from this folder: python program3_get.py
"""

from multiprocessing import Pool


def show(i):
    print(read_only_list[i])


if __name__ == "__main__":
    pool = Pool(8)
    read_only_list = [0] * 1000000
    numbers = list(range(1000000))
    pool.map_async(show, numbers).get()  # the one change: .get()
    pool.close()
    pool.join()
