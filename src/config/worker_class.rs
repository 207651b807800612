//! gunicorn's `-k/--worker-class`: which of its worker types rsgi-server's workers stand in
//! for, and why the others cannot.

/// The gunicorn worker types rsgi-server's workers serve as. Either way `--threads` decides
/// whether requests run on a thread pool, as gunicorn itself turns `sync` into `gthread`
/// when `threads` > 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkerClass {
    /// gunicorn's `sync`.
    Sync,
    /// gunicorn's `gthread`.
    Gthread,
}

const GREENLETS: &str = "rsgi-server's workers are an event loop over native threads, not \
                         greenlets (nothing is monkey-patched); use --threads N for blocking \
                         I/O concurrency, and --worker-connections for many idle clients";
const TORNADO: &str = "rsgi-server's workers are not Tornado IOLoops; a WSGI app needs no \
                       special worker (use --threads N for concurrency), and a native Tornado \
                       application needs Tornado's own server";
const ASGI: &str = "ASGI workers serve asyncio (ASGI) applications, and rsgi-server serves WSGI \
                    only; run an ASGI app with an ASGI server (uvicorn, granian, hypercorn)";
const CUSTOM: &str = "a custom worker class (a Python subclass of gunicorn's Worker) cannot \
                      replace rsgi-server's native workers; use sync, or gthread with \
                      --threads N";

/// Reads a `--worker-class` as gunicorn resolves it (a bundled name, `#name`,
/// `egg:gunicorn#name`, or a dotted class path); the error names the worker and says why
/// it is refused and what to use instead.
pub fn parse(value: &str) -> Result<WorkerClass, String> {
    let value = value.trim();
    let refused = |what: &str, why: &str| Err(format!("not supported: {what}: {why}"));
    let class = match canonical(value) {
        Some(class) => class,
        None => return refused(value, CUSTOM),
    };
    match class.as_str() {
        "gunicorn.workers.sync.SyncWorker" => Ok(WorkerClass::Sync),
        "gunicorn.workers.gthread.ThreadWorker" => Ok(WorkerClass::Gthread),
        "gunicorn.workers.ggevent.GeventWorker" | "gunicorn.workers.ggevent.GeventPyWSGIWorker" => {
            refused("gevent", GREENLETS)
        }
        "gunicorn.workers.geventlet.EventletWorker" => refused("eventlet", GREENLETS),
        "gunicorn.workers.gtornado.TornadoWorker" => refused("tornado", TORNADO),
        "gunicorn.workers.gasgi.ASGIWorker" => refused("asgi", ASGI),
        other if other.starts_with("uvicorn.") || other.starts_with("uvicorn_worker.") => {
            refused(other, ASGI)
        }
        other if other.contains("gevent") || other.contains("eventlet") => {
            refused(other, GREENLETS)
        }
        other => refused(other, CUSTOM),
    }
}

/// gunicorn's bundled workers by short name (`gunicorn.workers.SUPPORTED_WORKERS`, plus
/// eventlet, which gunicorn 27 no longer bundles but which is still written).
const BUNDLED: &[(&str, &str)] = &[
    ("sync", "gunicorn.workers.sync.SyncWorker"),
    ("gthread", "gunicorn.workers.gthread.ThreadWorker"),
    ("gevent", "gunicorn.workers.ggevent.GeventWorker"),
    ("gevent_wsgi", "gunicorn.workers.ggevent.GeventPyWSGIWorker"),
    (
        "gevent_pywsgi",
        "gunicorn.workers.ggevent.GeventPyWSGIWorker",
    ),
    ("eventlet", "gunicorn.workers.geventlet.EventletWorker"),
    ("tornado", "gunicorn.workers.gtornado.TornadoWorker"),
    ("asgi", "gunicorn.workers.gasgi.ASGIWorker"),
];

/// The dotted class path a value names, as `gunicorn.util.load_class` resolves it;
/// `None` for an entry point of another distribution (`egg:meinheld#...`) or an unknown
/// short name.
fn canonical(value: &str) -> Option<String> {
    let short = match value.strip_prefix("egg:") {
        Some(entry) => match entry.rsplit_once('#') {
            Some(("gunicorn", name)) => name,
            // gunicorn's default entry, `egg:gunicorn` alone, is the sync worker.
            None if entry == "gunicorn" => "sync",
            _ => return None,
        },
        None if value.contains('.') => return Some(value.to_owned()),
        None => value.trim_start_matches('#'),
    };
    BUNDLED
        .iter()
        .find(|(name, _)| *name == short)
        .map(|(_, class)| (*class).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gunicorn_spellings_of_sync_and_gthread_map_onto_our_workers() {
        for sync in [
            "sync",
            "#sync",
            "egg:gunicorn#sync",
            "egg:gunicorn",
            "gunicorn.workers.sync.SyncWorker",
        ] {
            assert_eq!(parse(sync), Ok(WorkerClass::Sync), "{sync}");
        }
        for threaded in [
            "gthread",
            "egg:gunicorn#gthread",
            " gunicorn.workers.gthread.ThreadWorker",
        ] {
            assert_eq!(parse(threaded), Ok(WorkerClass::Gthread), "{threaded}");
        }
    }

    #[test]
    fn other_workers_are_refused_by_name_with_what_to_use() {
        let cases = [
            ("gevent", "gevent", "--threads N"),
            ("egg:gunicorn#gevent_pywsgi", "gevent", "greenlets"),
            (
                "gunicorn.workers.ggevent.GeventWorker",
                "gevent",
                "--threads N",
            ),
            ("eventlet", "eventlet", "greenlets"),
            ("tornado", "tornado", "Tornado's own server"),
            ("asgi", "asgi", "ASGI server"),
            (
                "uvicorn.workers.UvicornWorker",
                "uvicorn.workers.UvicornWorker",
                "uvicorn",
            ),
            (
                "uvicorn_worker.UvicornWorker",
                "uvicorn_worker.UvicornWorker",
                "ASGI",
            ),
            (
                "myapp.workers.Fast",
                "myapp.workers.Fast",
                "custom worker class",
            ),
            (
                "egg:meinheld#gunicorn_worker",
                "egg:meinheld#gunicorn_worker",
                "custom",
            ),
            ("threads", "threads", "custom"),
        ];
        for (value, named, says) in cases {
            let why = parse(value).expect_err(value);
            assert!(
                why.starts_with(&format!("not supported: {named}: ")),
                "{why}"
            );
            assert!(why.contains(says), "{value}: {why}");
        }
    }
}
