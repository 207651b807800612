//! `rsgi-server ctl`: sends one command to a running server's control socket and prints
//! the reply, as text or (`--json`) as the reply's JSON. Exit status: 0 done, 1 the command
//! failed (or no server answered), 2 a usage error.
// The command's output is standard output (`print_stdout`): this is a command of its own,
// no server (and no access log) runs in this process.
#![allow(clippy::print_stdout)]

use super::format;
use super::protocol::{self, Command, MAX_REPLY};
use clap::Parser;
use serde_json::{Value, json};
use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "rsgi-server ctl",
    about = "Control a running rsgi-server through its control socket (--control-socket).",
    after_help = format::help(),
)]
struct Args {
    /// The server's control socket (its --control-socket).
    #[arg(long, short = 's', env = "RSGI_CONTROL_SOCKET", value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Print the reply as JSON.
    #[arg(long, short = 'j')]
    json: bool,
    /// How long to wait for the reply, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60.0)]
    timeout: f64,
    /// The command and its arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

/// Why a command did not go through.
#[derive(Debug)]
enum Failure {
    /// Bad usage: exit 2.
    Usage(String),
    /// The command failed or no server answered: exit 1.
    Failed(String),
}

/// Runs `ctl` with `args` (those after `ctl`); returns the exit status.
pub fn main(args: &[OsString]) -> u8 {
    let argv = std::iter::once(OsString::from("rsgi-server ctl")).chain(args.iter().cloned());
    let args = match Args::try_parse_from(argv) {
        Ok(args) => args,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() { 2 } else { 0 };
        }
    };
    match run(&args) {
        Ok(()) => 0,
        Err(Failure::Usage(why)) => {
            eprintln!("rsgi-server ctl: {why}");
            2
        }
        Err(Failure::Failed(why)) => {
            eprintln!("rsgi-server ctl: error: {why}");
            1
        }
    }
}

fn run(args: &Args) -> Result<(), Failure> {
    let command = Command::parse(&args.command).map_err(Failure::Usage)?;
    let Some(path) = &args.socket else {
        return Err(Failure::Usage(
            "which server? Pass --socket PATH (the server's --control-socket) or set \
             RSGI_CONTROL_SOCKET"
                .to_owned(),
        ));
    };
    if !(args.timeout > 0.0 && args.timeout.is_finite()) {
        return Err(Failure::Usage(format!(
            "--timeout: expected a positive number of seconds, got {}",
            args.timeout
        )));
    }
    let request = json!({
        "id": 1,
        "command": args.command.join(" "),
        "args": [],
        "version": protocol::VERSION,
    });
    let reply = exchange(path, &request, Duration::from_secs_f64(args.timeout))?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&reply).unwrap_or_default()
        );
    }
    match reply["status"].as_str() {
        Some("ok") => {
            if !args.json {
                print!("{}", format::human(&command, &reply["data"]));
            }
            Ok(())
        }
        _ => Err(Failure::Failed(
            reply["error"]
                .as_str()
                .unwrap_or("the server answered something else than a reply")
                .to_owned(),
        )),
    }
}

/// Sends `request` and reads the reply.
fn exchange(path: &Path, request: &Value, timeout: Duration) -> Result<Value, Failure> {
    let shown = path.display();
    let mut stream = UnixStream::connect(path).map_err(|e| {
        Failure::Failed(match e.kind() {
            io::ErrorKind::NotFound => format!(
                "no control socket at {shown}: is the server running, with --control-socket \
                 {shown}?"
            ),
            io::ErrorKind::ConnectionRefused => format!(
                "no server is running at {shown} (the socket is stale: its server has gone)"
            ),
            io::ErrorKind::PermissionDenied => {
                format!("permission denied on {shown}: run as the server's user (or root)")
            }
            _ => format!("cannot connect to {shown}: {e}"),
        })
    })?;
    let io_failed = |e: io::Error| {
        Failure::Failed(match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                format!("no reply from the server within {}s", timeout.as_secs_f64())
            }
            io::ErrorKind::UnexpectedEof => {
                "the server closed the connection without a reply".to_owned()
            }
            _ => format!("talking to the server: {e}"),
        })
    };
    stream.set_read_timeout(Some(timeout)).map_err(io_failed)?;
    stream.set_write_timeout(Some(timeout)).map_err(io_failed)?;
    // A server that refuses a client replies and closes at once: the reply is still there
    // to read though the request could not be written.
    if let Err(e) = stream.write_all(&protocol::encode(request)) {
        if !matches!(
            e.kind(),
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
        ) {
            return Err(io_failed(e));
        }
    }
    let mut prefix = [0u8; 4];
    stream.read_exact(&mut prefix).map_err(io_failed)?;
    let len = u32::from_be_bytes(prefix) as usize;
    if len > MAX_REPLY {
        return Err(Failure::Failed(format!(
            "a reply of {len} bytes is larger than any this client accepts"
        )));
    }
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload).map_err(io_failed)?;
    serde_json::from_slice(&payload)
        .map_err(|e| Failure::Failed(format!("the server's reply is not JSON: {e}")))
}
