//! The integration tests, one crate: the harness in `support/` and its dependencies are
//! compiled and linked once, and each area of the server has its module, named by prefix
//! (`http_*`, `engine_*`, `supervisor_*`, `tls_*`, `wsgi_*`, `hygiene_*`, ...).

mod support;

// The checks behind the fuzz targets (`fuzz/src/`), replayed by `http_fuzz_regressions`.
// They sit at the crate root because they name each other `crate::split` and so on, as they
// do in the fuzz crate.
#[path = "../../fuzz/src/chunked_body.rs"]
mod chunked_body;
#[path = "../../fuzz/src/request_head.rs"]
mod request_head;
#[path = "../../fuzz/src/response_chunked.rs"]
mod response_chunked;
#[path = "../../fuzz/src/split.rs"]
mod split;
#[path = "../../fuzz/src/uwsgi_packet.rs"]
mod uwsgi_packet;

mod browser_django;
mod config_cli;
mod config_gunicorn;
mod config_gunicorn_differential;
mod config_gunicorn_settings;
mod config_readme;
mod config_uwsgi;
mod control_socket;
mod differential_gunicorn;
mod django_site;
mod engine_buffering;
mod engine_burst;
mod engine_concurrency;
mod engine_shedding;
mod engine_timeouts;
mod fleet_chaos;
mod fleet_rolling;
mod fleet_soak;
mod http_clients;
mod http_compat;
mod http_corpus;
mod http_framing;
mod http_fuzz_regressions;
mod http_limits;
mod hygiene_daemon;
mod hygiene_orphans;
mod hygiene_pidfile;
mod hygiene_privileges;
mod hygiene_proctitle;
mod hygiene_upgrade;
mod logging_access;
mod logging_config;
mod logging_error;
mod logging_statsd;
mod logging_syslog;
mod metrics_prometheus;
mod metrics_scrape;
mod packaging_wheel;
mod proxy_headers;
mod proxy_protocol;
mod proxy_request_ids;
mod python_env;
mod python_hooks;
mod python_preload;
mod python_reload;
mod python_soft_timeout;
mod python_timeout;
mod serve_basic;
mod source_layering;
mod static_files;
mod static_offload;
mod static_safety;
mod supervisor_crashes;
mod supervisor_health;
mod supervisor_lifecycle;
mod supervisor_recycle;
mod supervisor_reload;
mod supervisor_reload_settings;
mod supervisor_signals;
mod systemd_activation;
mod systemd_notify;
mod tls_options;
mod tls_proxy;
mod tls_reload;
mod tls_serve;
mod uwsgi_corpus;
mod uwsgi_nginx;
mod uwsgi_packets;
mod uwsgi_router;
mod wsgi_environ;
mod wsgi_framing;
mod wsgi_input;
mod wsgi_response;
