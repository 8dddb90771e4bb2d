import time, functools, test_snapshot as ts, snapshot_helpers as sh
def timed(cls, name):
    f = getattr(cls, name)
    @functools.wraps(f)
    def w(*a, **k):
        t = time.monotonic(); r = f(*a, **k); print("%s %.1fs" % (name, time.monotonic() - t), flush=True); return r
    setattr(cls, name, w)
for n in ("__init__", "switch_writers", "snapshot", "finish", "check_state", "check_live_changes", "log_state"):
    timed(ts.Migration, n)
timed(sh, "fill_old") if False else None
