//! Process titles: `rsgi-server: master [NAME]` and `rsgi-server: worker [NAME]`, as `ps`,
//! `top` and `/proc/PID/cmdline` show them.
//!
//! Linux has no call to set the command line another process sees: it is read straight from
//! the memory where the kernel put `argv` at exec. So, like BSD's setproctitle(3) and
//! python-setproctitle, we overwrite that memory. The environment strings sit right after
//! the arguments, so they are copied to the heap first and their space joins the title
//! area (a short command line still gets a full title). The kernel notices that the
//! argument area's last NUL was overwritten and reads the title on into that space.
//!
//! Consequences, by design: after [`set`], `std::env::args()` returns the title's pieces,
//! so everything that needs the command line (Python's `sys.argv`, the USR2 re-exec) takes
//! it from [`original_args`], which is copied at startup.
//!
//! The argv pointers come from a glibc `.init_array` function: glibc (not the ELF standard)
//! passes `argc, argv, envp` to those, which is how Rust's own std captures them too.
//! Elsewhere (musl) only the short kernel name (`comm`) is set.

use std::ffi::{CStr, OsString, c_char, c_int};
use std::os::unix::ffi::OsStringExt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

/// `argc` and `argv` as glibc gave them to [`capture`]; null until it ran.
static ARGC: AtomicUsize = AtomicUsize::new(0);
static ARGV: AtomicPtr<*const c_char> = AtomicPtr::new(std::ptr::null_mut());

/// The title area found by [`init`]: start address and length in bytes.
static AREA: OnceLock<(usize, usize)> = OnceLock::new();

/// The command line as it was at exec.
static ORIGINAL: OnceLock<Vec<OsString>> = OnceLock::new();

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[used]
#[unsafe(link_section = ".init_array.00099")]
static CAPTURE: extern "C" fn(c_int, *const *const c_char, *const *const c_char) = capture;

/// Records where the kernel put `argv`. Runs before `main`, in the single startup thread;
/// it only stores two values, so it cannot fail or allocate.
#[cfg_attr(not(all(target_os = "linux", target_env = "gnu")), allow(dead_code))]
extern "C" fn capture(argc: c_int, argv: *const *const c_char, _envp: *const *const c_char) {
    ARGC.store(usize::try_from(argc).unwrap_or(0), Ordering::Relaxed);
    ARGV.store(argv.cast_mut(), Ordering::Relaxed);
}

unsafe extern "C" {
    static mut environ: *mut *mut c_char;
    static mut program_invocation_name: *mut c_char;
    static mut program_invocation_short_name: *mut c_char;
}

/// Copies the command line and moves the environment out of the way, so that [`set`] can
/// later overwrite both areas. Call once, first thing in `main`.
///
/// # Safety
///
/// The process must be single-threaded, and nothing may hold a pointer into the original
/// environment strings (what `getenv` returned before this call) or mutate the environment
/// concurrently. At the top of `main` both hold.
pub unsafe fn init() {
    let argc = ARGC.load(Ordering::Relaxed);
    let argv = ARGV.load(Ordering::Relaxed);
    if argv.is_null() || argc == 0 {
        let _ = ORIGINAL.set(std::env::args_os().collect());
        return;
    }
    // SAFETY: glibc passed this argv to `capture`: `argc` valid pointers to NUL-terminated
    // strings, untouched so far (nothing writes them before `set`).
    let args: Vec<&CStr> = (0..argc)
        .map(|i| unsafe { CStr::from_ptr(*argv.add(i)) })
        .collect();
    let _ = ORIGINAL.set(
        args.iter()
            .map(|a| OsString::from_vec(a.to_bytes().to_vec()))
            .collect(),
    );
    // The area is the run of strings laid end to end from argv[0]; stop at the first gap
    // (something rewrote a pointer) so we never write over memory we do not know.
    let start = args[0].as_ptr() as usize;
    let mut end = start;
    for arg in &args {
        if arg.as_ptr() as usize != end {
            break;
        }
        end += arg.to_bytes_with_nul().len();
    }
    // SAFETY: single-threaded (caller's contract), so reading and rewriting the entries of
    // `environ` races with nothing; each entry is a valid C string or the terminating null.
    unsafe {
        let env = environ;
        if !env.is_null() {
            // First extend the area over environment strings that follow it directly...
            let mut i = 0;
            while !(*env.add(i)).is_null() {
                let s = *env.add(i);
                if s as usize == end {
                    end += CStr::from_ptr(s).to_bytes_with_nul().len();
                }
                i += 1;
            }
            // ...then point every entry inside the area at a heap copy (leaked on purpose:
            // the environment lives as long as the process), so getenv never reads the title.
            let mut i = 0;
            while !(*env.add(i)).is_null() {
                let s = *env.add(i);
                if (start..end).contains(&(s as usize)) {
                    *env.add(i) = CStr::from_ptr(s).to_owned().into_raw();
                }
                i += 1;
            }
        }
        // glibc's error messages (err(3), assert) print these; they point into argv[0].
        for name in [
            &raw mut program_invocation_name,
            &raw mut program_invocation_short_name,
        ] {
            let p = *name;
            if !p.is_null() && (start..end).contains(&(p as usize)) {
                *name = CStr::from_ptr(p).to_owned().into_raw();
            }
        }
    }
    let _ = AREA.set((start, end - start));
}

/// The command line as it was at exec, whatever the title says now.
pub fn original_args() -> Vec<OsString> {
    ORIGINAL
        .get()
        .cloned()
        .unwrap_or_else(|| std::env::args_os().collect())
}

/// The command line as strings (lossily decoded), for Python's `sys.argv`.
pub fn original_args_lossy() -> Vec<String> {
    original_args()
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

/// Shows `title` as this process's command line, and its first 15 bytes as the kernel's
/// short name (`comm`, what `top` and `pgrep` match). Longer titles are cut to fit.
pub fn set(title: &str) {
    if let Some(&(start, len)) = AREA.get() {
        if len > 0 {
            let n = title.len().min(len - 1);
            // SAFETY: [start, start + len) is the argv/environment string area found by
            // `init`: memory the kernel gave this process, writable, and no longer read by
            // anything (environ entries and program_invocation_name were moved out of it,
            // argv is only read through the copy in ORIGINAL). The master and each worker
            // write their own copy (fork duplicates it), from a single thread.
            unsafe {
                let area = std::slice::from_raw_parts_mut(start as *mut u8, len);
                area[..n].copy_from_slice(&title.as_bytes()[..n]);
                area[n..].fill(0);
            }
        }
    }
    let short: Vec<u8> = title
        .bytes()
        .filter(|b| *b != 0)
        .take(15)
        .chain(std::iter::once(0))
        .collect();
    if let Ok(name) = CStr::from_bytes_with_nul(&short) {
        let _ = nix::sys::prctl::set_name(name);
    }
}

/// The master's title.
pub fn master_title(name: &str) -> String {
    format!("rsgi-server: master [{name}]")
}

/// A worker's title.
pub fn worker_title(name: &str) -> String {
    format!("rsgi-server: worker [{name}]")
}
