"""Units the course reports in: one definition each.

MiB is 2**20 bytes, the unit of every memory figure in the course (what `free -m`, `top`
and psutil's examples use); 1 MB would be 10**6 bytes, 4.6% less.
"""

MiB = 2**20
