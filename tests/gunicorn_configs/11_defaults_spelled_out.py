# Settings left at gunicorn's defaults, written out (generated configs do this).
http_protocols = "h1"
dirty_workers = 0
dirty_apps = []
logger_class = "gunicorn.glogging.Logger"
sendfile = None
statsd_host = None
protocol = "http"
suppress_ragged_eofs = True
do_handshake_on_connect = False
spew = False
paste = None
