//! HUP and the settings a reload cannot hand to new workers alone: the pid file moves to a
//! new `--pid` path; changes to the logs, `--user`/`--group` and master-side `--hooks` are
//! named in the log as needing a restart, option by option, instead of being ignored.

use crate::support::*;
use nix::sys::signal::Signal;

/// Waits for generation `n` to replace the old one.
fn reloaded(server: &mut Server, n: u64) {
    server.wait_for_line(&format!("Reload complete (generation {n})"));
}

/// A config file's line naming `file` as the `--hooks` module.
fn hooks_setting(file: &std::path::Path) -> String {
    format!("hooks = {:?}\n", file.display().to_string())
}

#[test]
fn a_new_pid_path_moves_the_pid_file() {
    let dir = TempDir::new();
    let (old, new) = (dir.path().join("old.pid"), dir.path().join("new.pid"));
    let config = dir.write(
        "rsgi.toml",
        format!("pid = {:?}\n", old.display().to_string()),
    );
    let mut server = server("hello").arg("-c").arg(&config).start();
    let master = format!("{}\n", server.pid());
    assert_eq!(std::fs::read_to_string(&old).unwrap(), master);
    std::fs::write(&config, format!("pid = {:?}\n", new.display().to_string())).unwrap();
    server.signal(Signal::SIGHUP);
    server.wait_for_line(&format!("Pid file moved to {}", new.display()));
    reloaded(&mut server, 2);
    assert_eq!(std::fs::read_to_string(&new).unwrap(), master);
    assert!(!old.exists(), "the old pid file is left behind");
    // No pid file configured any more: the file goes.
    std::fs::write(&config, "").unwrap();
    server.signal(Signal::SIGHUP);
    reloaded(&mut server, 3);
    assert!(
        !new.exists(),
        "the pid file is left behind with --pid unset"
    );
    assert_eq!(server.terminate().code(), Some(0));
}

#[test]
fn changes_needing_a_restart_are_named_one_by_one() {
    let dir = TempDir::new();
    let config = dir.write("rsgi.toml", "");
    let mut server = server("hello").arg("-c").arg(&config).start();
    let access = dir.path().join("access.log");
    std::fs::write(
        &config,
        format!(
            "log_level = \"debug\"\naccess_logfile = {:?}\naccess_log_format = \"%(s)s\"\n\
             log_format = \"json\"\nuser = \"nobody\"\n",
            access.display().to_string()
        ),
    )
    .unwrap();
    server.signal(Signal::SIGHUP);
    let line = server.wait_for_line("changes need a restart");
    for option in [
        "--log-level",
        "--access-logfile",
        "--access-log-format",
        "--log-format",
    ] {
        assert!(line.contains(option), "{option} not named: {line}");
    }
    assert!(!line.contains("--error-logfile"), "{line}");
    // --user alone also means its primary group.
    let line = server.wait_for_line("changes need a restart; workers still run as");
    assert!(line.contains("] --user, --group changes"), "{line}");
    assert!(
        !line.contains("--umask"),
        "only what changed is named: {line}"
    );
    reloaded(&mut server, 2);
    // Said, and indeed not applied: the log is still text, no access log was opened.
    assert!(server.stderr_text().contains("[INFO] Reload complete"));
    assert!(!access.exists());
    assert_eq!(server.terminate().code(), Some(0));
}

#[test]
fn a_hooks_change_the_master_loaded_needs_a_restart() {
    let dir = TempDir::new();
    let hooks = |name: &str| {
        dir.write(
            name,
            "def on_reload(server):\n    server.log.info('on_reload ran')\n",
        )
    };
    let (first, second) = (hooks("one.py"), hooks("two.py"));
    let config = dir.write("rsgi.toml", hooks_setting(&first));
    let mut server = server("hello").arg("-c").arg(&config).start();
    std::fs::write(&config, hooks_setting(&second)).unwrap();
    server.signal(Signal::SIGHUP);
    let line = server.wait_for_line("--hooks changes need a restart");
    assert!(line.contains(&first.display().to_string()), "{line}");
    reloaded(&mut server, 2);
    assert_eq!(server.terminate().code(), Some(0));
}

#[test]
fn a_hooks_module_the_master_loaded_edited_in_place_needs_a_restart() {
    let dir = TempDir::new();
    let hooks = dir.write(
        "edited.py",
        "def on_reload(server):\n    server.log.info('on_reload ran')\n",
    );
    let config = dir.write("rsgi.toml", hooks_setting(&hooks));
    let mut server = server("hello").arg("-c").arg(&config).start();
    // Unchanged: nothing to say.
    server.signal(Signal::SIGHUP);
    reloaded(&mut server, 2);
    assert!(!server.stderr_text().contains("changed on disk"));
    std::fs::write(
        &hooks,
        "def on_reload(server):\n    server.log.info('edited on_reload ran')\n",
    )
    .unwrap();
    // A later modification time than the load's, whatever the file system's resolution.
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(&hooks)
        .and_then(|f| f.set_modified(later))
        .unwrap();
    server.signal(Signal::SIGHUP);
    let line = server.wait_for_line("changed on disk");
    assert!(line.contains(&hooks.display().to_string()), "{line}");
    reloaded(&mut server, 3);
    assert_eq!(server.terminate().code(), Some(0));
}

#[test]
fn a_hooks_change_with_worker_side_hooks_only_reaches_the_new_workers() {
    let dir = TempDir::new();
    let marker = dir.path().join("marker");
    let hooks = |name: &str, tag: &str| {
        dir.write(
            name,
            format!(
                "def post_worker_init(worker):\n    \
                 open({:?}, 'a').write('{tag}\\n')\n",
                marker.display().to_string()
            ),
        )
    };
    let (first, second) = (hooks("one.py", "one"), hooks("two.py", "two"));
    let config = dir.write("rsgi.toml", hooks_setting(&first));
    let mut server = server("hello").arg("-c").arg(&config).start();
    std::fs::write(&config, hooks_setting(&second)).unwrap();
    server.signal(Signal::SIGHUP);
    reloaded(&mut server, 2);
    let warned = server
        .stderr_text()
        .contains("--hooks changes need a restart");
    match host() {
        // The binary's master runs no Python for worker-side hooks: each new worker loads
        // the module named now.
        Host::Embedded => {
            assert_eq!(std::fs::read_to_string(&marker).unwrap(), "one\ntwo\n");
            assert!(!warned);
        }
        // The pip-installed master is a Python process and loaded the module itself, so its
        // workers inherit the old one: the reload says so rather than pretending.
        Host::Interpreter => {
            assert_eq!(std::fs::read_to_string(&marker).unwrap(), "one\none\n");
            assert!(warned, "{}", server.stderr_text());
        }
    }
    assert_eq!(server.terminate().code(), Some(0));
}
