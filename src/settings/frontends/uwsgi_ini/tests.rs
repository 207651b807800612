//! The ini reader and the translation, on files written to a temporary directory.

use super::read as read_ini;
use crate::settings::frontends::FileLayer;
use crate::settings::{ConfigError, Layer};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Dir {
        Dir(tempfile::tempdir().expect("temp dir"))
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    fn read_with(
        &self,
        text: &str,
        section: &str,
        env: &[(&str, &str)],
    ) -> Result<FileLayer, ConfigError> {
        let path = self.write("conf/app.ini", text);
        let env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        read_ini(&path, section, &env, false, self.path())
    }

    fn read(&self, text: &str) -> FileLayer {
        self.read_with(text, "uwsgi", &[])
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn error(&self, text: &str) -> String {
        match self.read_with(text, "uwsgi", &[]) {
            Ok(file) => panic!("expected an error, got {:?}", file.layer),
            Err(e) => e.to_string(),
        }
    }
}

fn layer(dir: &Dir, text: &str) -> Layer {
    dir.read(text).layer
}

#[test]
fn reads_the_uwsgi_section_only_and_keys_with_dashes_or_underscores_alike() {
    let dir = Dir::new();
    let l = layer(
        &dir,
        "processes = 9\n[other]\nprocesses = 3\n[uwsgi]\n; comment\n# comment\n\
         max_requests = 7\n  threads=4  \n[other]\nthreads = 8\n",
    );
    assert_eq!(
        (l.workers, l.threads, l.max_requests),
        (None, Some(4), Some(7))
    );
}

#[test]
fn another_section_is_read_when_named_and_a_missing_one_names_those_present() {
    let dir = Dir::new();
    let text = "[uwsgi]\nprocesses = 2\n[production]\nprocesses = 8\n";
    let l = dir.read_with(text, "production", &[]).expect("reads").layer;
    assert_eq!(l.workers, Some(8));
    let err = dir
        .read_with(text, "staging", &[])
        .expect_err("no such section")
        .to_string();
    assert!(err.contains("app.ini"), "{err}");
    assert!(err.contains("no [staging] section"), "{err}");
    assert!(err.contains("[uwsgi], [production]"), "{err}");
}

#[test]
fn repeated_keys_accumulate_lists_and_the_last_scalar_wins() {
    let dir = Dir::new();
    let l = layer(
        &dir,
        "[uwsgi]\nprocesses = 2\nprocesses = 5\nenv = A=1\nenv = B=2\npythonpath = lib\n\
         pp = /abs\nhttp = :8000\nhttp-socket = 127.0.0.1:9000\n",
    );
    assert_eq!(l.workers, Some(5));
    assert_eq!(l.env, Some(vec!["A=1".to_owned(), "B=2".to_owned()]));
    assert_eq!(
        l.pythonpath,
        Some(vec![dir.path().join("lib"), PathBuf::from("/abs")])
    );
    assert_eq!(
        l.bind,
        Some(vec!["0.0.0.0:8000".to_owned(), "127.0.0.1:9000".to_owned()])
    );
}

#[test]
fn booleans_take_uwsgi_words_and_a_bare_key_means_true() {
    let dir = Dir::new();
    assert_eq!(layer(&dir, "[uwsgi]\nlazy-apps\n").preload, Some(false));
    assert_eq!(
        layer(&dir, "[uwsgi]\nlazy-apps = off\n").preload,
        Some(true)
    );
    assert_eq!(layer(&dir, "[uwsgi]\nlazy = yes\n").preload, Some(false));
    // uWSGI imports the application in the master unless told otherwise.
    assert_eq!(layer(&dir, "[uwsgi]\nmodule = a.b\n").preload, Some(true));
    let err = dir.error("[uwsgi]\n\nlazy-apps = maybe\n");
    assert!(err.contains("lazy-apps (in "), "{err}");
    assert!(err.contains("app.ini:3 [uwsgi]"), "{err}");
    assert!(err.contains("maybe"), "{err}");
}

#[test]
fn placeholders_expand_as_uwsgi_expands_them() {
    let dir = Dir::new();
    dir.write("secret.txt", "  s3cret \n");
    let file = dir
        .read_with(
            "[uwsgi]\nproject = shop\nmodule = %(project).wsgi\nenv = D=%d\nenv = P=%p\n\
             env = S=%s\nenv = N=%n\nenv = C=%c\nenv = PCT=100%%\nenv = PORT=$(PORT)\n\
             env = NONE=$(NOT_SET)x\nenv = KEY=@(secret.txt)\nenv = LATER=%(later)\n\
             env = E=%e\n",
            "uwsgi",
            &[("PORT", "8123")],
        )
        .expect("reads");
    let conf = dir.path().join("conf");
    let expected: Vec<String> = [
        format!("D={}/", conf.display()),
        format!("P={}", conf.join("app.ini").display()),
        "S=app.ini".to_owned(),
        "N=app".to_owned(),
        "C=conf".to_owned(),
        "PCT=100%".to_owned(),
        "PORT=8123".to_owned(),
        "NONE=x".to_owned(),
        "KEY=s3cret".to_owned(),
        "LATER=%(later)".to_owned(),
        "E=ini".to_owned(),
    ]
    .into();
    assert_eq!(file.layer.env, Some(expected));
    assert_eq!(file.layer.app.as_deref(), Some("shop.wsgi"));
    let warnings = file.warnings.join("\n");
    assert!(warnings.contains("$(NOT_SET) is not set"), "{warnings}");
    assert!(
        warnings.contains("app.ini:13 (env): %(later) names no option"),
        "{warnings}"
    );
}

#[test]
fn a_missing_placeholder_file_is_an_error_naming_the_line() {
    let dir = Dir::new();
    let err = dir.error("[uwsgi]\nenv = A=@(nowhere.txt)\n");
    assert!(
        err.contains("line 2: env @(nowhere.txt): cannot read"),
        "{err}"
    );
}

#[test]
fn includes_read_other_files_and_sections_in_place() {
    let dir = Dir::new();
    dir.write(
        "base.ini",
        "[uwsgi]\nprocesses = 4\nthreads = 2\n[extra]\nmax-requests = 9\n",
    );
    let l = layer(
        &dir,
        "[uwsgi]\nprocesses = 1\nini = base.ini\nini = base.ini:extra\nini = :tuning\n\
         threads = 3\n[tuning]\nlisten = 128\n",
    );
    assert_eq!(
        (l.workers, l.threads, l.max_requests, l.backlog),
        (Some(4), Some(3), Some(9), Some(128))
    );
    let err = dir.error("[uwsgi]\nini = :uwsgi\n");
    assert!(err.contains("too deep"), "{err}");
    let err = dir.error("[uwsgi]\nini = missing.ini\n");
    assert!(err.contains("missing.ini"), "{err}");
}

#[test]
fn if_blocks_test_the_environment_files_and_options() {
    let dir = Dir::new();
    dir.write("present.txt", "");
    let file = dir
        .read_with(
            "[uwsgi]\nif-env = WORKERS\nprocesses = %(_)\nendif =\n\
             if-not-env = NOPE\nthreads = 3\nendif\n\
             if-env = MODE=prod\nmax-requests = 1\nendif\n\
             if-exists = present.txt\nenv = FOUND=%(_)\nendif\n\
             if-file = absent.txt\nenv = WRONG=1\nendif\n\
             if-opt = threads=3\nlisten = 77\nend\n",
            "uwsgi",
            &[("WORKERS", "6"), ("MODE", "dev")],
        )
        .expect("reads");
    let l = file.layer;
    assert_eq!(
        (l.workers, l.threads, l.max_requests),
        (Some(6), Some(3), None)
    );
    assert_eq!(l.env, Some(vec!["FOUND=present.txt".to_owned()]));
    assert_eq!(l.backlog, Some(77));
}

#[test]
fn for_blocks_repeat_each_line_for_each_item() {
    let dir = Dir::new();
    dir.write("vars.txt", "A=1\n\nB=2\n");
    let l = layer(
        &dir,
        "[uwsgi]\nfor = 8001 8002\nhttp = 127.0.0.1:%(_)\nenv = PORT%(_)=1\nendfor =\n\
         for-readline = vars.txt\nenv = %(_)\nendfor\nfor-times = 2\nenv = T%(_)=x\nendfor\n",
    );
    assert_eq!(
        l.bind,
        Some(vec![
            "127.0.0.1:8001".to_owned(),
            "127.0.0.1:8002".to_owned()
        ])
    );
    let env: Vec<&str> = l
        .env
        .as_deref()
        .unwrap()
        .iter()
        .map(String::as_str)
        .collect();
    assert_eq!(
        env,
        ["PORT8001=1", "PORT8002=1", "A=1", "B=2", "T1=x", "T2=x"]
    );
}

#[test]
fn unbalanced_blocks_are_errors_naming_the_line() {
    let dir = Dir::new();
    let err = dir.error("[uwsgi]\nprocesses = 2\nif-env = X\nthreads = 2\n");
    assert!(
        err.contains("line 3: if-env is not closed by an endif"),
        "{err}"
    );
    let err = dir.error("[uwsgi]\nendfor =\n");
    assert!(err.contains("line 2: endfor closes no"), "{err}");
    let err = dir.error("[uwsgi]\nfor-glob = *.ini\nendfor\n");
    assert!(err.contains("line 2: for-glob is not supported"), "{err}");
}

#[test]
fn addresses_become_our_binds() {
    let dir = Dir::new();
    let l = layer(
        &dir,
        "[uwsgi]\nhttp = :80\nhttp-socket = /run/app.sock\nhttp-socket = app.sock\n\
         http = [::1]:8080\n",
    );
    let app_sock = dir.path().join("app.sock");
    assert_eq!(
        l.bind,
        Some(vec![
            "0.0.0.0:80".to_owned(),
            "unix:/run/app.sock".to_owned(),
            format!("unix:{}", app_sock.display()),
            "[::1]:8080".to_owned(),
        ])
    );
    let l = layer(
        &dir,
        "[uwsgi]\nsocket = :3031\nprotocol = http\nchmod-socket\n",
    );
    assert_eq!(l.bind, Some(vec!["0.0.0.0:3031".to_owned()]));
    assert_eq!(l.unix_socket_mode.as_deref(), Some("666"));
}

#[test]
fn uwsgi_sockets_become_uwsgi_binds_beside_http_ones() {
    let dir = Dir::new();
    let l = layer(
        &dir,
        "[uwsgi]\nsocket = /run/app.sock\nuwsgi-socket = 127.0.0.1:3031\ns = :3032\n\
         socket = app.sock\nhttp-socket = :8000\nchmod-socket = 660\n",
    );
    let app_sock = dir.path().join("app.sock");
    assert_eq!(
        l.bind,
        Some(vec![
            "0.0.0.0:8000".to_owned(),
            "uwsgi://unix:/run/app.sock".to_owned(),
            "uwsgi://127.0.0.1:3031".to_owned(),
            "uwsgi://0.0.0.0:3032".to_owned(),
            format!("uwsgi://unix:{}", app_sock.display()),
        ])
    );
    // chmod-socket is the mode of every Unix socket we create, uwsgi ones included.
    assert_eq!(l.unix_socket_mode.as_deref(), Some("660"));
    let err = dir.error("[uwsgi]\nsocket = :3031\nprotocol = fastcgi\n");
    assert!(err.contains("only the http and uwsgi protocols"), "{err}");
}

#[test]
fn unsupported_options_are_refused_together() {
    let dir = Dir::new();
    let text = "[uwsgi]\nscgi-socket = /run/app.sock\nspooler = /tmp/spool\n\
                attach-daemon = celery worker\ncheck-static = /srv/static\nmaster = true\n";
    let err = dir.error(text);
    for needle in [
        "scgi-socket, spooler, attach-daemon, check-static (in ",
        "scgi-socket (line 2): only HTTP and uwsgi listeners",
        "spooler (line 3): uWSGI's spooler",
        "attach-daemon (line 4): uWSGI managing other programs",
        "check-static (line 5): uWSGI's other static-file options",
        "--ini-ignore-unsupported",
    ] {
        assert!(err.contains(needle), "{needle:?} not in {err}");
    }
    let path = dir.write("conf/app.ini", text);
    let file = read_ini(&path, "uwsgi", &BTreeMap::new(), true, dir.path()).expect("ignored");
    let warnings = file.warnings.join("\n");
    assert!(warnings.contains("ignoring uWSGI options"), "{warnings}");
    assert!(warnings.contains("spooler (line 3)"), "{warnings}");
    assert!(
        warnings.contains("master (there is always a master"),
        "{warnings}"
    );
    assert_eq!(file.warnings.len(), 2, "{warnings}");
}

#[test]
fn typos_name_the_closest_option_and_custom_options_are_read_with_placeholders() {
    let dir = Dir::new();
    let err = dir.error("[uwsgi]\nproccesses = 4\n");
    assert!(
        err.contains("proccesses (line 2): did you mean processes?"),
        "{err}"
    );
    let l = layer(&dir, "[uwsgi]\nappname = shop\nmodule = %(appname).wsgi\n");
    assert_eq!(l.app.as_deref(), Some("shop.wsgi"));
    let err = dir.error("[uwsgi]\nappname = shop\n");
    assert!(
        err.contains("appname (line 2): an option rsgi-server does not read"),
        "{err}"
    );
}

#[test]
fn the_application_from_module_or_wsgi_file_and_callable() {
    let dir = Dir::new();
    assert_eq!(
        layer(&dir, "[uwsgi]\nmodule = a.b\ncallable = app\n")
            .app
            .as_deref(),
        Some("a.b:app")
    );
    assert_eq!(
        layer(&dir, "[uwsgi]\ncallable = app\nmodule = a.b:make\n")
            .app
            .as_deref(),
        Some("a.b:make")
    );
    std::fs::create_dir_all(dir.path().join("srv/site")).unwrap();
    let l = layer(
        &dir,
        "[uwsgi]\npythonpath = lib\nchdir = srv\nwsgi-file = site/run.py\ncallable = app\n",
    );
    let srv = dir.path().join("srv");
    assert_eq!(l.app.as_deref(), Some("run:app"));
    assert_eq!(l.chdir, Some(srv.clone()));
    assert_eq!(l.pythonpath, Some(vec![srv.join("site"), srv.join("lib")]));
    let err = dir.error("[uwsgi]\nwsgi-file = app.wsgi\n");
    assert!(err.contains("wsgi-file (in "), "{err}");
    let err = dir.error("[uwsgi]\nmodule = a\nwsgi-file = b.py\n");
    assert!(err.contains("not both"), "{err}");
}

#[test]
fn values_are_checked_by_our_parsers_and_named_by_the_uwsgi_option() {
    let dir = Dir::new();
    let err = dir.error("[uwsgi]\nmaster = true\nprocesses = four\n");
    assert!(err.contains("\"four\" for processes (in "), "{err}");
    assert!(err.contains("app.ini:3 [uwsgi])"), "{err}");
}

#[test]
fn uwsgi_defaults_that_differ_from_ours_and_the_logs() {
    let dir = Dir::new();
    let l = layer(&dir, "[uwsgi]\nmodule = a\n");
    // No harakiri: uWSGI never kills a slow request; requests are logged (to stderr).
    assert_eq!(l.timeout, Some(0));
    assert_eq!(l.access_logfile, Some(PathBuf::from("-")));
    let l = layer(&dir, "[uwsgi]\nharakiri = 20\nlogto = log/app.log\n");
    let log = dir.path().join("log/app.log");
    assert_eq!(l.timeout, Some(20));
    assert_eq!(l.error_logfile, Some(log.clone()));
    assert_eq!(l.access_logfile, Some(log));
    let l = layer(
        &dir,
        "[uwsgi]\nlogto = /var/log/a.log\ndisable-logging = true\n",
    );
    assert_eq!(l.access_logfile, None);
    let l = layer(
        &dir,
        "[uwsgi]\ndaemonize = /var/log/a.log\nreq-logger = file:/var/log/r.log\n",
    );
    assert_eq!(l.daemon, Some(true));
    assert_eq!(l.access_logfile, Some(PathBuf::from("/var/log/r.log")));
    let err = dir.error("[uwsgi]\nlog-format = %(addr) %(wid)\n");
    assert!(err.contains("%(wid) cannot be logged here"), "{err}");
}

#[test]
fn the_simple_options_map_onto_our_settings() {
    let dir = Dir::new();
    let l = layer(
        &dir,
        "[uwsgi]\nthreads = 4\nuid = www-data\ngid = www-data\nmax-requests = 100\n\
         reload-on-rss = 512\nmax-worker-lifetime = 3600\nbuffer-size = 32768\n\
         post-buffering = 8192\nlimit-post = 1000000\nlisten = 512\nsocket-timeout = 9\n\
         pidfile = run/app.pid\nhome = venv\numask = 027\n",
    );
    assert_eq!(l.user.as_deref(), Some("www-data"));
    assert_eq!(l.group.as_deref(), Some("www-data"));
    assert_eq!(
        (l.max_requests, l.max_worker_memory, l.max_worker_lifetime),
        (Some(100), Some(512), Some(3600))
    );
    assert_eq!(
        (
            l.limit_request_head,
            l.body_buffer_size,
            l.limit_request_body,
            l.backlog
        ),
        (Some(32768), Some(8192), Some(1_000_000), Some(512))
    );
    assert_eq!(
        (l.header_timeout, l.body_timeout, l.send_timeout),
        (Some(9), Some(9), Some(9))
    );
    assert_eq!(l.pid, Some(dir.path().join("run/app.pid")));
    assert_eq!(l.virtualenv, Some(dir.path().join("venv")));
    assert_eq!(l.umask.as_deref(), Some("027"));
}

#[test]
fn the_key_table_is_consistent_and_every_special_key_is_translated() {
    use super::keys::{KEYS, Meaning};
    let mut seen = std::collections::BTreeSet::new();
    for (names, _) in KEYS {
        for name in *names {
            assert!(seen.insert(*name), "{name} is listed twice");
            assert!(!name.contains('_'), "{name}: keys are compared with dashes");
        }
    }
    let dir = Dir::new();
    for (names, meaning) in KEYS {
        if *meaning != Meaning::Special {
            continue;
        }
        for name in *names {
            // Any outcome but a panic: translate.rs must know every special key.
            let _ = dir.read_with(&format!("[uwsgi]\n{name} = 1\n"), "uwsgi", &[]);
        }
    }
}

#[test]
fn the_proxy_protocol_is_read_from_any_peer_as_in_uwsgi() {
    let dir = Dir::new();
    let l = layer(&dir, "[uwsgi]\nenable-proxy-protocol = true\n");
    assert_eq!(l.proxy_protocol.as_deref(), Some("auto"));
    assert_eq!(l.proxy_allow_ips, Some(vec!["*".to_owned()]));
}

#[test]
fn a_bad_listener_is_named_by_its_option_and_an_unset_variable_behind_it_noted() {
    let dir = Dir::new();
    let err = dir.error("[uwsgi]\nhttp = :$(PORT)\n");
    assert!(err.contains("\":\" for http (in "), "{err}");
    assert!(err.contains("app.ini:2 [uwsgi])"), "{err}");
    assert!(
        err.contains("note: ") && err.contains("$(PORT) is not set"),
        "{err}"
    );
}
