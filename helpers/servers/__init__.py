"""Local services the lessons talk to, each in its own process, each stopped with its experiment.

http: a slow HTTP server for the I/O lessons (02, 03, 06).
redis: a real Redis server for the sharing lesson (05).
"""

from .http import slow_server as slow_server
from .redis import redis_server as redis_server
