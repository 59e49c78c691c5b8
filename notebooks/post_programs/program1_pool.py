"""Program 1 of the 2016 post, re-created for this course: a process pool, five sleepy tasks.

A re-creation from what the post's program does, not its code. A pool with one worker per
CPU runs five tasks through apply_async; each task sleeps a random time of up to 3 s and
says how long it slept. Kept from the post on purpose, as lesson 07 (section 1) runs it: the
script imports only Pool from multiprocessing, then calls multiprocessing.cpu_count().

Run it from this folder: python program1_pool.py
"""

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
    pool = Pool(multiprocessing.cpu_count())  # noqa: F821 (the post's mistake, kept on purpose)
    for number in range(5):
        pool.apply_async(nap, args=(number,))
    print("waiting for the tasks to finish...")
    pool.close()
    pool.join()
    print("all tasks done.")
