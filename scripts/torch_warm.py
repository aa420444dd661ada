# Times the PyTorch reimplementation of nanoBragg (hoidn/nanoBragg, src/nanobrag_torch) warm:
# its Simulator.run three times in one process (the first includes torch.compile), each time
# on stderr. Usage: PYTHONPATH=<checkout>/src THREADS=2 python3 scripts/torch_warm.py <nanoBragg
# arguments> -floatfile out.bin
import sys, time
import torch
torch.set_num_threads(int(__import__("os").environ.get("THREADS", "2")))
from nanobrag_torch import simulator as S
from nanobrag_torch import __main__ as M
orig = S.Simulator.run
def timed(self, *a, **k):
    r = None
    for i in range(3):
        t = time.perf_counter()
        r = orig(self, *a, **k)
        print(f"TIMING run {i}: {time.perf_counter() - t:.3f} s", file=sys.stderr)
    return r
S.Simulator.run = timed
sys.argv = ["nanoBragg"] + sys.argv[1:]
M.main()
