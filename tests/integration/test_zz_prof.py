import conftest_prof_tmp
from test_snapshot import *
