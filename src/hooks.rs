//! Gunicorn's server hooks: Python callables the user names in the configuration.
//!
//! STUB (issue 4 contract): the master-side hooks are no-ops until the hooks work lands;
//! the arbiter already calls them at the right moments. Worker-side hooks (`post_fork`,
//! `post_worker_init`, `worker_int`, `worker_abort`, `pre_request`, `post_request`,
//! `worker_exit`) are run by the worker itself.

/// What a master-side hook is told about a worker.
#[derive(Clone, Copy, Debug)]
pub struct WorkerInfo {
    /// Its process id (0 in `pre_fork`, before it exists).
    pub pid: i32,
    /// Its spawn number: 1 for the first worker ever forked, counting up (gunicorn's `age`).
    pub age: u64,
    /// Its scoreboard slot, if it has one.
    pub slot: Option<usize>,
}

/// The master-side hooks of the configuration.
#[derive(Debug, Default)]
pub struct MasterHooks {
    _private: (),
}

impl MasterHooks {
    /// No hooks at all.
    pub fn none() -> MasterHooks {
        MasterHooks::default()
    }

    /// Whether any master-side hook needs Python in the master.
    pub fn need_python(&self) -> bool {
        false
    }

    /// `on_starting(server)`: before the first worker is forked.
    pub fn on_starting(&self) {}

    /// `on_reload(server)`: a HUP reload begins (after the new config is read).
    pub fn on_reload(&self) {}

    /// `when_ready(server)`: every worker of the first generation is ready.
    pub fn when_ready(&self) {}

    /// `pre_fork(server, worker)`: just before a worker is forked.
    pub fn pre_fork(&self, _worker: &WorkerInfo) {}

    /// `child_exit(server, worker)`: a worker has exited and been reaped (in the master).
    pub fn child_exit(&self, _worker: &WorkerInfo) {}

    /// `nworkers_changed(server, new_value, old_value)`: the target worker count changed.
    pub fn nworkers_changed(&self, _new: u32, _old: u32) {}

    /// `pre_exec(server)`: before a new master is exec'd (USR2).
    pub fn pre_exec(&self) {}

    /// `on_exit(server)`: the master is about to exit.
    pub fn on_exit(&self) {}
}
