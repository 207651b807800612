//! `--preload`: the master imports the app before forking, the workers serve the object
//! they inherited (sharing its memory copy-on-write), and an app that cannot be imported
//! stops the server before anything is bound or forked.

use crate::support::*;

/// A field of /proc/PID/smaps_rollup in KiB.
fn rollup_kib(pid: i32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).expect("smaps_rollup");
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in smaps_rollup of {pid}"))
}

fn field(text: &str, name: &str) -> i64 {
    text.split_whitespace()
        .find_map(|w| w.strip_prefix(name)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name}= in {text:?}"))
}

#[test]
fn workers_serve_the_app_the_master_imported_and_share_its_memory() {
    let mut server = server("cases.preloaded")
        .arg("--preload")
        .workers(2)
        .start();
    server.wait_for_line("Preloaded app 'cases.preloaded:application' in the master");
    let text = server.get("/").text();
    assert_eq!(
        field(&text, "imported_in"),
        i64::from(server.pid()),
        "imported by the master: {text}"
    );
    assert_ne!(field(&text, "pid"), i64::from(server.pid()), "{text}");
    assert_eq!(field(&text, "objects"), 320_000);
    assert!(
        field(&text, "frozen") > 1_000,
        "frozen in the master: {text}"
    );

    // The ~50 MB of objects built at import are shared with the master: a worker's own
    // (private) memory is a small part of what it maps.
    for &pid in &server.worker_pids {
        let rss = rollup_kib(pid, "Rss");
        let private = rollup_kib(pid, "Private_Clean") + rollup_kib(pid, "Private_Dirty");
        assert!(
            rss > 50_000,
            "worker {pid} maps the app's data: Rss {rss} KiB"
        );
        assert!(
            private * 2 < rss,
            "worker {pid}: private {private} KiB of Rss {rss} KiB; the preloaded data \
             should be shared"
        );
    }
}

#[test]
fn a_preloaded_app_that_fails_to_import_stops_the_server_before_forking() {
    let run = server("cases.broken_import")
        .arg("--preload")
        .workers(2)
        .run();
    assert_eq!(run.code(), Some(4), "{run:?}");
    assert!(run.stderr.contains("rsgi-test-import-failure"), "{run:?}");
    assert!(run.stderr.contains("Traceback"), "{run:?}");
    // The import happens after binding (and after dropping privileges, so the app never
    // runs as root) but before any worker exists.
    assert!(!run.stderr.contains("Booting worker"), "{run:?}");
}

#[test]
fn without_preload_each_worker_imports_the_app_and_freezes_what_it_built() {
    let server = server("cases.preloaded").start();
    let text = server.get("/").text();
    assert_eq!(field(&text, "imported_in"), field(&text, "pid"), "{text}");
    // The import's objects (DATA's list, the modules, the functions) are out of the
    // collector's reach: a full collection does not walk them in the middle of a request.
    assert!(field(&text, "frozen") > 1_000, "{text}");
}

// Regression: a preloaded app that started a thread killed the master (debug builds),
// commit d7c4798 (issue 4)
/// An app whose import starts a thread, preloaded: documented as a warning (the thread
/// will not exist in the workers), not as a master that dies at its first fork.
#[test]
fn preloading_an_app_that_starts_a_thread_warns_and_serves() {
    let dir = TempDir::new();
    dir.write(
        "threaded_import.py",
        "import threading, time\n\
         threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()\n\
         def application(environ, start_response):\n    \
             start_response('200 OK', [('Content-Length', '2')])\n    \
             return [b'ok']\n",
    );
    let mut srv = server("threaded_import:application")
        .no_chdir()
        .arg("--chdir")
        .arg(dir.path())
        .arg("--preload")
        .start();
    assert!(
        srv.stderr_text()
            .contains("importing in the master started 1 thread(s)"),
        "{}",
        srv.stderr_text()
    );
    assert_eq!(srv.get("/").text(), "ok");
    assert!(srv.terminate().success());
}
