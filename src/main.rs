//! `rsgi-server`, the standalone binary: it embeds the Python it was built against. The
//! same server installed with pip runs from the Python package (`python/`).

fn main() -> std::process::ExitCode {
    rsgi_server::start::main(std::env::args_os().collect()).into()
}
