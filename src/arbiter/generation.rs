//! Generations of workers: HUP reloads and the readiness-gated replacement of workers.
//!
//! Every worker belongs to a generation, the configuration it was started with. A HUP
//! re-reads the configuration and starts a new generation; a worker to be recycled
//! (`--max-requests` and friends) is replaced the same way. The rule that keeps every request
//! served: a worker being replaced is stopped (TERM: it drains) only once a worker of the
//! current generation has reported ready in the scoreboard, so the number of serving workers
//! never drops below the target while a replacement boots.
//!
//! A new generation that cannot boot (a worker exits before it was ever ready: the new code
//! does not import, say) is abandoned: the last generation that was completely ready
//! ([`Stable`]) carries on with its configuration and sockets, the failed generation's
//! booting workers are stopped and its serving ones replaced as above. A HUP never takes the
//! server down. (Workers are never preloaded, so a stable-generation worker respawned later
//! imports the code on disk, whatever it is by then.)
//!
//! Bind changes apply on HUP: new addresses are bound before the new generation is forked
//! (a failure aborts the reload); removed ones are closed, and their socket files removed,
//! once no worker of an older generation is left.

use super::{Arbiter, Phase, Worker};
use crate::config::{BindAddr, Config};
use crate::listen::{self, BindOptions, Listener};
use crate::metrics::exposition::ReloadOutcome;
use crate::tls::ServerTls;
use nix::sys::signal::Signal as Sig;
use nix::unistd::Pid;
use std::os::fd::{AsFd, AsRawFd};
use std::rc::Rc;
use std::time::Instant;

/// The last generation that was completely ready.
pub(super) struct Stable {
    pub(super) generation: u64,
    pub(super) config: Config,
    pub(super) tls: Option<ServerTls>,
    pub(super) listeners: Vec<Rc<Listener>>,
}

impl Arbiter {
    /// A worker of the current generation that nothing is replacing or stopping.
    fn is_fresh(&self, worker: &Worker) -> bool {
        worker.stop.is_none() && worker.generation == self.generation && worker.retiring.is_none()
    }

    /// A worker that serves until a fresh one can take its place.
    fn is_replaceable(&self, worker: &Worker) -> bool {
        worker.stop.is_none() && (worker.generation != self.generation || worker.retiring.is_some())
    }

    /// Whether a reload is under way (the current generation has not replaced the stable
    /// one yet).
    pub(super) fn reloading(&self) -> bool {
        self.generation != self.stable.generation
    }

    /// HUP: re-reads the configuration and starts a new generation with it.
    pub(super) fn reload(&mut self) {
        if self.phase != Phase::Running {
            return;
        }
        // Workers that became ready in the same wake-up as this HUP: announce their
        // generation first. Otherwise the reload starts from a server that looks as if it
        // never booted, and a new generation that fails to import stops it.
        self.check_generation();
        if let Some(notifier) = &self.notifier {
            notifier.reloading();
        }
        let new = match self.config.reload() {
            Ok(new) => new,
            Err(err) => return self.abort_reload(format!("the configuration is invalid ({err})")),
        };
        if let Some(dir) = new
            .python
            .chdir
            .as_ref()
            .filter(|d| Some(*d) != self.config.python.chdir.as_ref())
        {
            if let Err(err) = std::env::set_current_dir(dir) {
                return self
                    .abort_reload(format!("cannot change to --chdir {}: {err}", dir.display()));
            }
        }
        let tls = self.reload_tls(&new);
        // Socket-activated without --bind: the configuration names no addresses, the
        // inherited sockets are what we serve.
        let keep_inherited = !new.sockets.binds_explicit && listen::serving_inherited_as_is();
        let listeners = if keep_inherited {
            Ok(self.listeners.clone())
        } else {
            self.listeners_for(&new, tls.is_some())
        };
        let listeners = match listeners {
            Ok(listeners) => listeners,
            Err(err) => return self.abort_reload(err),
        };
        for removed in self
            .listeners
            .iter()
            .filter(|l| !listeners.iter().any(|n| Rc::ptr_eq(l, n)))
        {
            tracing::info!(
                "Will stop listening at: {} (once the old workers are gone)",
                removed.url()
            );
        }
        self.warn_of_changes_needing_a_restart(&new);
        if new.process.pid != self.config.process.pid {
            move_pid_file(new.process.pid.as_deref());
        }
        self.hooks.on_reload();
        if new.workers.count != self.config.workers.count || self.target != new.workers.count {
            let old = self.target;
            self.target = new.workers.count;
            if old != new.workers.count {
                tracing::info!(
                    "Number of workers changed from {old} to {}",
                    new.workers.count
                );
                self.hooks.nworkers_changed(new.workers.count, old);
            }
        }
        self.config = new;
        self.tls = tls;
        self.listeners = listeners;
        self.latest_generation += 1;
        self.generation = self.latest_generation;
        tracing::info!(
            "Reloading: starting generation {} ({} workers); old workers stop as new ones \
             become ready",
            self.generation,
            self.target
        );
    }

    /// Gives a reload up before anything changed: says why, and that the server goes on.
    fn abort_reload(&mut self, why: impl std::fmt::Display) {
        self.count_reload(ReloadOutcome::Failed);
        tracing::error!(
            "Reload aborted: {why}; still serving with the current configuration and workers"
        );
        self.reannounce();
    }

    /// The TLS configuration for `new`'s generation. The certificate may have been renewed
    /// in place, so the files are read again; a failure (a key readable only by root, a
    /// half-written file) keeps the one that works.
    fn reload_tls(&self, new: &Config) -> Option<ServerTls> {
        match crate::tls::load(&new.tls) {
            Ok(tls) => {
                if let (Some(_), Some(certfile)) = (&tls, &new.tls.certfile) {
                    tracing::info!("TLS certificate loaded from {}", certfile.display());
                }
                tls
            }
            Err(err) => {
                tracing::error!(
                    "TLS not reloaded: {err}; the new workers keep the current certificate"
                );
                self.tls.clone()
            }
        }
    }

    /// Says which of `new`'s changes a reload does not apply.
    fn warn_of_changes_needing_a_restart(&self, new: &Config) {
        let (old, changed) = (&self.config.sockets, &new.sockets);
        if (
            changed.backlog,
            changed.reuse_port,
            changed.unix_socket_mode,
        ) != (old.backlog, old.reuse_port, old.unix_socket_mode)
        {
            tracing::warn!(
                "--backlog, --reuse-port and --unix-socket-mode apply to newly bound addresses \
                 only; addresses kept from before still use their old settings (restart to \
                 change them)"
            );
        }
        let logs = self.config.logging.changes_needing_a_restart(&new.logging);
        if !logs.is_empty() {
            tracing::warn!(
                "{} changes need a restart; the logs are written as before",
                logs.join(", ")
            );
        }
        let (was, is) = (&self.config.process, &new.process);
        let owner: Vec<&str> = [
            (was.owner.user != is.owner.user, "--user"),
            (was.owner.group != is.owner.group, "--group"),
            (was.initgroups != is.initgroups, "--initgroups"),
            (was.umask != is.umask, "--umask"),
        ]
        .into_iter()
        .filter_map(|(differs, option)| differs.then_some(option))
        .collect();
        if !owner.is_empty() {
            // Workers are forked by the master, which gave up root when it started.
            tracing::warn!(
                "{} changes need a restart; workers still run as the master does",
                owner.join(", ")
            );
        }
        if new.python.hooks != self.config.python.hooks && crate::wsgi::hooks::loaded() {
            tracing::warn!(
                "--hooks changes need a restart; the hooks of '{}' still run (the master \
                 loaded them and its workers inherit them)",
                self.config.python.hooks.as_deref().unwrap_or("")
            );
        } else if new.python.hooks == self.config.python.hooks
            && let Some(file) = crate::wsgi::hooks::edited_since_loaded()
        {
            tracing::warn!(
                "the --hooks module {} changed on disk since the master loaded it; its \
                 workers inherit the module as loaded, so the change takes a restart",
                file.display()
            );
        } else if let Some(hooks) = new
            .python
            .hooks
            .as_deref()
            .filter(|h| Some(*h) != self.config.python.hooks.as_deref())
        {
            tracing::info!(
                "--hooks: new workers run the worker-side hooks of '{hooks}'; master-side \
                 hooks in it run after a restart"
            );
        }
        if new.metrics != self.config.metrics {
            tracing::warn!(
                "--metrics-bind changes need a restart; metrics are still served at the old \
                 address"
            );
        }
        if new.logging.statsd != self.config.logging.statsd {
            tracing::warn!(
                "--statsd-host, --statsd-prefix and --dogstatsd-tags changes need a restart; \
                 StatsD metrics still go where they went"
            );
        }
        if new.control != self.config.control {
            tracing::warn!(
                "--control-socket and --control-socket-mode changes need a restart; the \
                 control socket is unchanged"
            );
        }
    }

    /// The listeners `new` asks for: the current ones it keeps, plus new ones bound now.
    /// `tls`: they serve HTTPS (for the log).
    fn listeners_for(
        &self,
        new: &Config,
        tls: bool,
    ) -> Result<Vec<Rc<Listener>>, listen::BindError> {
        // Socket-activated without --bind, the configured addresses (the defaults) were
        // never bound: the current listeners are found by the address they serve, or an
        // inherited socket would be bound a second time (EADDRINUSE, or no privilege).
        let by_address = listen::serving_inherited_as_is();
        let current = |addr: &BindAddr| -> Option<Rc<Listener>> {
            if by_address {
                self.listeners
                    .iter()
                    .find(|l| l.serves(addr, l.as_fd().as_raw_fd()))
                    .cloned()
            } else {
                let i = self.config.sockets.binds.iter().position(|b| b == addr)?;
                self.listeners.get(i).cloned()
            }
        };
        let missing: Vec<_> = new
            .sockets
            .binds
            .iter()
            .filter(|b| current(b).is_none())
            .cloned()
            .collect();
        let mut fresh = listen::bind_all(&missing, &BindOptions::from(new))?.into_iter();
        let mut listeners = Vec::with_capacity(new.sockets.binds.len());
        for (addr, protocol) in new.sockets.binds.iter().zip(&new.sockets.protocols) {
            match current(addr) {
                Some(listener) => listeners.push(listener),
                None => {
                    let listener = Rc::new(fresh.next().expect("one listener per new address"));
                    tracing::info!(
                        "Listening at: {} (new)",
                        crate::tls::url(listener.url_speaking(*protocol), tls)
                    );
                    listeners.push(listener);
                }
            }
        }
        Ok(listeners)
    }

    /// After an aborted reload: tell systemd the server is (still) ready.
    fn reannounce(&self) {
        if let Some(notifier) = &self.notifier {
            notifier.ready();
        }
    }

    /// Spawns fresh workers up to the target, stops fresh ones beyond it, and stops
    /// replaceable workers as fresh ones become ready.
    pub(super) fn converge(&mut self) {
        let target = self.target as usize;
        let mut fresh = self.workers.values().filter(|w| self.is_fresh(w)).count();
        while fresh < target && !self.backoff.waiting() {
            if let Err(err) = self.spawn() {
                if !self.booted {
                    tracing::error!("cannot fork a worker: {err}; stopping");
                    self.exit = super::Exit::Failed(format!("fork failed: {err}"));
                    self.stop(false);
                    return;
                }
                let delay = self.backoff.failed(std::time::Duration::ZERO);
                tracing::error!(
                    "cannot fork a worker: {err}; retrying in {:.1}s",
                    delay.as_secs_f64()
                );
                break;
            }
            fresh += 1;
        }
        if fresh > target {
            // TTOU (or a reload to fewer workers): booting ones first, they serve nobody;
            // then the oldest, as gunicorn does.
            let mut excess: Vec<(bool, Instant, Pid)> = self
                .workers
                .iter()
                .filter(|(_, w)| self.is_fresh(w))
                .map(|(pid, w)| (self.is_ready(w), w.started, *pid))
                .collect();
            excess.sort();
            for (_, _, pid) in excess.into_iter().take(fresh - target) {
                tracing::info!("Stopping worker (pid: {pid}): more workers than wanted");
                self.stop_worker(pid, Sig::SIGTERM);
            }
        }
        let ready_fresh = self
            .workers
            .values()
            .filter(|w| self.is_fresh(w) && self.is_ready(w))
            .count();
        let mut replaceable: Vec<(bool, Instant, Pid)> = self
            .workers
            .iter()
            .filter(|(_, w)| self.is_replaceable(w))
            .map(|(pid, w)| (self.is_ready(w), w.started, *pid))
            .collect();
        // Those not serving yet first, then the oldest.
        replaceable.sort();
        let mut left = replaceable.len();
        for (_, _, pid) in replaceable {
            if ready_fresh + left <= target {
                break;
            }
            tracing::info!("Stopping worker (pid: {pid}): its replacement is ready");
            self.stop_worker(pid, Sig::SIGTERM);
            left -= 1;
        }
    }

    /// Announces a generation once all its workers are ready, and completes a reload once
    /// no older worker is left.
    pub(super) fn check_generation(&mut self) {
        if self.announced != self.generation {
            let fresh: Vec<&Worker> = self.workers.values().filter(|w| self.is_fresh(w)).collect();
            let all_ready =
                fresh.len() >= self.target as usize && fresh.iter().all(|w| self.is_ready(w));
            if !all_ready {
                return;
            }
            self.announced = self.generation;
            tracing::info!(
                "All {} workers ready (generation {})",
                fresh.len(),
                self.generation
            );
            if let Some(notifier) = &self.notifier {
                notifier.ready();
            }
            if !self.booted {
                self.booted = true;
                // --daemon: the command returns once the workers serve.
                crate::process::daemon::started();
                self.hooks.when_ready();
            }
        }
        if self.reloading()
            && self
                .workers
                .values()
                .all(|w| w.generation == self.generation)
        {
            self.complete_reload();
        }
    }

    /// The reload is over: the current generation becomes the stable one, and sockets only
    /// the old one used are closed.
    fn complete_reload(&mut self) {
        for old in &self.stable.listeners {
            if !self.listeners.iter().any(|l| Rc::ptr_eq(l, old)) {
                tracing::info!("Stopped listening at: {}", old.url());
                old.remove_socket_file();
            }
        }
        self.stable = Stable {
            generation: self.generation,
            config: self.config.clone(),
            tls: self.tls.clone(),
            listeners: self.listeners.clone(),
        };
        tracing::info!("Reload complete (generation {})", self.generation);
        self.count_reload(ReloadOutcome::Succeeded);
    }

    /// A worker of a new generation could not boot: gives the generation up and goes back to
    /// the stable one, whose workers (those not yet stopped) keep serving.
    pub(super) fn abandon_reload(&mut self, pid: Pid, why: &str) {
        self.count_reload(ReloadOutcome::Abandoned);
        tracing::error!(
            "Reload failed: worker (pid: {pid}) of generation {} could not boot ({why}); \
             keeping generation {} serving",
            self.generation,
            self.stable.generation
        );
        // Its workers still booting are stopped now; those already serving are replaced
        // like any old worker, once the stable generation's new workers are ready (stopping
        // them at once could leave fewer workers serving than the target).
        let failed = self.generation;
        let doomed: Vec<Pid> = self
            .workers
            .iter()
            .filter(|(_, w)| w.generation == failed && !self.is_ready(w))
            .map(|(pid, _)| *pid)
            .collect();
        for pid in doomed {
            self.stop_worker(pid, Sig::SIGTERM);
        }
        for listener in &self.listeners {
            if !self
                .stable
                .listeners
                .iter()
                .any(|l| Rc::ptr_eq(l, listener))
            {
                tracing::info!("Stopped listening at: {} (reload failed)", listener.url());
                listener.remove_socket_file();
            }
        }
        if let Some(dir) = self
            .stable
            .config
            .python
            .chdir
            .as_ref()
            .filter(|d| Some(*d) != self.config.python.chdir.as_ref())
        {
            let _ = std::env::set_current_dir(dir);
        }
        self.generation = self.stable.generation;
        self.config = self.stable.config.clone();
        self.tls = self.stable.tls.clone();
        self.listeners = self.stable.listeners.clone();
        if self.target != self.config.workers.count {
            let old = self.target;
            self.target = self.config.workers.count;
            self.hooks.nworkers_changed(self.target, old);
        }
        // The stable generation is what serves: systemd hears it is ready again.
        self.announced = self.generation;
        self.reannounce();
    }
}

/// A reload changed `--pid`: our pid goes to the new path, and the old file goes. A new
/// file that cannot be written keeps the old one (and says so). Left alone during a USR2
/// upgrade, whose new master owns the configured path.
fn move_pid_file(path: Option<&std::path::Path>) {
    if crate::process::upgrade::in_progress() {
        tracing::warn!("--pid changes wait for the binary upgrade under way; the pid file stays");
        return;
    }
    let Some(path) = path else {
        // Dropping it removes the file (while it names us).
        drop(crate::process::upgrade::take_pidfile());
        tracing::info!("Pid file removed (--pid unset)");
        return;
    };
    match crate::process::pidfile::PidFile::create(path) {
        Ok(pidfile) => {
            drop(crate::process::upgrade::take_pidfile());
            crate::process::upgrade::set_pidfile(pidfile);
            tracing::info!("Pid file moved to {}", path.display());
        }
        Err(err) => tracing::error!(
            "cannot write the pid file {} (--pid): {err}; the old one stays",
            path.display()
        ),
    }
}
