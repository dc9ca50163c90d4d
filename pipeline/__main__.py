import atexit
import gc

from .cli import main

# The interpreter's collections at exit walk every object the run made (numba's, polars' and
# pandas' modules among them): 0.3 s at the end of a million-battle load. Frozen, they are
# skipped; the commands close their files and connections themselves before that.
atexit.register(gc.freeze)
main()
