"""The hello app wrapped in WhiteNoise serving $BENCH_STATIC_DIR under /static/: how a Django
or Flask project without nginx serves its static files, the Python peer of the static
workloads in bench/run.sh."""

import os

from hello import application as hello
from whitenoise import WhiteNoise

application = WhiteNoise(hello, root=os.environ["BENCH_STATIC_DIR"], prefix="/static/")
