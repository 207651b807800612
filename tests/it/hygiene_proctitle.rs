//! Process titles: `rsgi-server: master [NAME]` / `rsgi-server: worker [NAME]` in
//! /proc/PID/cmdline (what `ps` shows) and the short kernel name; Python still sees the
//! real command line in `sys.argv`.

use crate::support::*;

#[test]
fn titles_name_the_role_and_python_keeps_the_real_argv() {
    let mut srv = server("cases.hygiene")
        .args(["--name", "shop"])
        .workers(2)
        .start();
    assert_eq!(cmdline(srv.pid()), "rsgi-server: master [shop]");
    assert_eq!(comm(srv.pid()), "rsgi-server: ma");
    for &worker in &srv.worker_pids {
        assert_eq!(cmdline(worker), "rsgi-server: worker [shop]");
        assert_eq!(comm(worker), "rsgi-server: wo");
    }
    let info = get_json(srv.addr(), "/?env=PATH");
    let argv: Vec<String> = info
        .get("argv")
        .and_then(|a| a.as_array())
        .expect("argv")
        .iter()
        .map(|a| a.as_str().expect("string").to_owned())
        .collect();
    let expected: Vec<String> = [
        server_bin().display().to_string(),
        "--chdir".into(),
        pyapps().display().to_string(),
        "-b".into(),
        "127.0.0.1:0".into(),
        "--name".into(),
        "shop".into(),
        "-w".into(),
        "2".into(),
        "cases.hygiene".into(),
    ]
    .into();
    assert_eq!(argv, expected);
    // The environment moved out of the way is intact.
    assert_eq!(
        info.get("env")
            .and_then(|e| e.get("PATH"))
            .and_then(|p| p.as_str()),
        std::env::var("PATH").ok().as_deref()
    );
    assert!(srv.terminate().success());
}

#[test]
fn default_name_is_the_app() {
    let mut srv = server("cases.hygiene").start();
    assert_eq!(
        cmdline(srv.pid()),
        "rsgi-server: master [cases.hygiene:application]"
    );
    assert_eq!(
        cmdline(srv.worker_pid()),
        "rsgi-server: worker [cases.hygiene:application]"
    );
    assert!(srv.terminate().success());
}
