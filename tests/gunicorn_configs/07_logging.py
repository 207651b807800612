# Logging to syslog and through a dictConfig, as log-shipping setups do.
syslog = True
syslog_addr = "unix:///dev/log"
syslog_facility = "local0"
syslog_prefix = "shop"
disable_redirect_access_to_syslog = True
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)s'
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s [%(process)d] [%(levelname)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "stream": "ext://sys.stderr",
        },
    },
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["console"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["console"], "propagate": False},
    },
}
# Metrics for an existing StatsD/Datadog dashboard.
statsd_host = "127.0.0.1:8125"
statsd_prefix = "shop"
dogstatsd_tags = "env:prod,team:web"
enable_backlog_metric = True
