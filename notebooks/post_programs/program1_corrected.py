"""Program 1, corrected as little as possible: it imports the module whose cpu_count() it calls.

Lesson 07, section 1. The one change from program1_pool.py is the first import; everything
else, the post's order of statements included, is the same. Note what it still does: one
worker per *logical CPU of the machine*, whatever this process may really use, and errors
raised in the tasks would be lost (apply_async's results are never read).

Run it from this folder: python program1_corrected.py
"""

import multiprocessing
import os
import random
import time
from multiprocessing import Pool


def nap(number):
    print(f"task {number} starts in process {os.getpid()}")
    started = time.time()
    time.sleep(random.random() * 3)
    print(f"task {number} slept {time.time() - started:.2f} s")


if __name__ == "__main__":
    pool = Pool(multiprocessing.cpu_count())
    for number in range(5):
        pool.apply_async(nap, args=(number,))
    print("waiting for the tasks to finish...")
    pool.close()
    pool.join()
    print("all tasks done.")
