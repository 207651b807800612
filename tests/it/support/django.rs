//! The demo Django project (`examples/django_site/`) prepared for a test: its own SQLite
//! database (migrated, with a superuser) and media directory in a [`TempDir`], the
//! collected static files, and a [`Builder`] for `rsgi-server django_site.wsgi:application`
//! with the settings' environment and `--static-map /static=...`.
//!
//! Migrating, collecting and hashing the superuser's password take seconds, and nextest
//! runs each test in its own process, so the prepared database and static tree are built
//! once per project version under `CARGO_TARGET_TMPDIR` (named by a hash of the project's
//! files and the Python pins) and each site copies the database. The static tree is shared:
//! the server only reads it.

use super::{Builder, TempDir, project_venv, repo_root, server, test_python, without_runner_env};
use std::collections::hash_map::DefaultHasher;
use std::ffi::OsString;
use std::fs;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The superuser every prepared site has.
pub const ADMIN_USER: &str = "admin";
/// Its password.
pub const ADMIN_PASSWORD: &str = "rsgi-django-admin-17";
/// Its email address.
pub const ADMIN_EMAIL: &str = "admin@example.com";
/// The WSGI application of the project.
pub const APP: &str = "django_site.wsgi:application";

/// The project's directory (`manage.py` and the `django_site` package live there).
pub fn project_dir() -> PathBuf {
    repo_root().join("examples/django_site")
}

/// One test's site: its database and media directory, removed on drop.
pub struct Site {
    dir: TempDir,
    static_root: PathBuf,
}

impl Site {
    /// A fresh site: a copy of the prepared (migrated, superuser created) database, an
    /// empty media directory, and the collected static files.
    pub fn prepare() -> Site {
        let template = template();
        let dir = TempDir::new();
        fs::copy(template.join("db.sqlite3"), dir.join("db.sqlite3")).expect("copy the db");
        fs::create_dir(dir.join("media")).expect("media dir");
        Site {
            dir,
            static_root: template.join("static"),
        }
    }

    /// The SQLite database (`DJANGO_DB`).
    pub fn db(&self) -> PathBuf {
        self.dir.join("db.sqlite3")
    }

    /// Where uploads land (`DJANGO_MEDIA_ROOT`).
    pub fn media_root(&self) -> PathBuf {
        self.dir.join("media")
    }

    /// The collected static files (`DJANGO_STATIC_ROOT`), shared by every site.
    pub fn static_root(&self) -> &Path {
        &self.static_root
    }

    /// The site's own temp directory (free for a test's sockets and files).
    pub fn dir(&self) -> &TempDir {
        &self.dir
    }

    /// The settings' environment: `DEBUG` off, the default `ALLOWED_HOSTS`, this site's
    /// paths. A test overrides one by setting it again after these.
    pub fn env(&self) -> Vec<(&'static str, OsString)> {
        vec![
            ("DJANGO_SECRET_KEY", "rsgi-server-tests-not-secret".into()),
            ("DJANGO_DEBUG", "0".into()),
            ("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]".into()),
            ("DJANGO_DB", self.db().into()),
            ("DJANGO_MEDIA_ROOT", self.media_root().into()),
            ("DJANGO_STATIC_ROOT", self.static_root.clone().into()),
            ("DJANGO_CSRF_TRUSTED_ORIGINS", "".into()),
        ]
    }

    /// `rsgi-server django_site.wsgi:application --chdir examples/django_site
    /// --static-map /static=<static root>` with [`Site::env`] (and `--virtualenv` of the
    /// project venv, where Django is installed), bound to 127.0.0.1:0 unless the test
    /// binds elsewhere. The site must outlive the server.
    pub fn server(&self) -> Builder {
        self.app_server()
            .arg("--static-map")
            .arg(format!("/static={}", self.static_root.display()))
    }

    /// [`Site::server`] without `--static-map`: the app alone (which serves static files
    /// itself only with `DJANGO_DEBUG` on).
    pub fn app_server(&self) -> Builder {
        let mut b = server(APP).no_chdir().arg("--chdir").arg(project_dir());
        if let Some(venv) = project_venv() {
            b = b.arg("--virtualenv").arg(venv);
        }
        for (k, v) in self.env() {
            b = b.env(k, v);
        }
        b
    }

    /// Runs `manage.py ARGS` against this site (the test Python, the site's environment).
    pub fn manage(&self, args: &[&str]) -> Output {
        manage(&self.env(), args)
    }
}

/// Runs `manage.py args` with `env` and the test Python; panics, with its output, when it
/// fails.
fn manage(env: &[(&str, OsString)], args: &[&str]) -> Output {
    let mut cmd = Command::new(test_python());
    without_runner_env(&mut cmd)
        .arg("manage.py")
        .args(args)
        .current_dir(project_dir())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .envs(env.iter().map(|(k, v)| (k, v)));
    let out = cmd.output().expect("run manage.py");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("No module named 'django'") {
        panic!(
            "Django is not installed for {}: pip install -r requirements-dev.txt",
            test_python().display()
        );
    }
    assert!(
        out.status.success(),
        "manage.py {args:?} failed:\n{}\n{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    out
}

/// The prepared database and static tree of the project as it is now, built on first use.
fn template() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let done = root.join(format!("django-site-{:016x}", project_hash()));
    if done.join("db.sqlite3").exists() {
        return done;
    }
    // Built aside and renamed into place, so a concurrent test sees all of it or none; the
    // loser of a race throws its copy away.
    let building = root.join(format!(
        "django-site-build-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = fs::remove_dir_all(&building);
    fs::create_dir_all(&building).expect("template dir");
    let env: Vec<(&str, OsString)> = vec![
        ("DJANGO_SECRET_KEY", "rsgi-server-tests-not-secret".into()),
        ("DJANGO_DB", building.join("db.sqlite3").into()),
        ("DJANGO_MEDIA_ROOT", building.join("media").into()),
        ("DJANGO_STATIC_ROOT", building.join("static").into()),
        ("DJANGO_SUPERUSER_USERNAME", ADMIN_USER.into()),
        ("DJANGO_SUPERUSER_PASSWORD", ADMIN_PASSWORD.into()),
        ("DJANGO_SUPERUSER_EMAIL", ADMIN_EMAIL.into()),
    ];
    manage(&env, &["migrate", "--noinput", "-v0"]);
    manage(&env, &["collectstatic", "--noinput", "-v0"]);
    manage(&env, &["createsuperuser", "--noinput"]);
    if fs::rename(&building, &done).is_err() {
        let _ = fs::remove_dir_all(&building);
        assert!(done.join("db.sqlite3").exists(), "no template at {done:?}");
    }
    done
}

/// A hash of what the prepared template depends on: the project's source files (not what
/// running it by hand leaves there) and the pinned Python packages.
fn project_hash() -> u64 {
    let mut hasher = DefaultHasher::new();
    let mut files = Vec::new();
    collect_sources(&project_dir(), &mut files);
    files.sort();
    for file in files {
        file.hash(&mut hasher);
        fs::read(&file).unwrap_or_default().hash(&mut hasher);
    }
    fs::read(repo_root().join("requirements-dev.txt"))
        .unwrap_or_default()
        .hash(&mut hasher);
    test_python().hash(&mut hasher);
    ADMIN_PASSWORD.hash(&mut hasher);
    hasher.finish()
}

fn collect_sources(dir: &Path, files: &mut Vec<PathBuf>) {
    let skip = ["__pycache__", "media", "staticfiles", "db.sqlite3"];
    for entry in fs::read_dir(dir).expect("read the project dir").flatten() {
        let path = entry.path();
        if skip.iter().any(|s| entry.file_name() == *s) {
            continue;
        }
        if path.is_dir() {
            collect_sources(&path, files);
        } else {
            files.push(path);
        }
    }
}
