"""Program 2 of the 2016 post, re-created for this course: one named thread counts to five.

A re-creation from what the post's program does, not its code. The main thread starts one
thread, named Counter, that counts from 1 to 5, sleeping one second after each number, and
waits for it. Every line says which thread printed it. Lesson 07, section 1.

Run it from this folder: python program2_thread.py
"""

import threading
import time


def count_to_five():
    me = threading.current_thread().name
    print(f"thread {me} starts")
    n = 0
    while n < 5:
        n = n + 1
        print(f"thread {me} says {n}")
        time.sleep(1)
    print(f"thread {me} ends")


print(f"thread {threading.current_thread().name} starts")
counter = threading.Thread(target=count_to_five, name="Counter")
counter.start()
counter.join()
print(f"thread {threading.current_thread().name} ends")
