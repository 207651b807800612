"""The build backend pip runs for rsgi-server (pyproject.toml): maturin's, after checking
that Rust is there. Without it maturin would try to download a toolchain, and fail with
an error that does not say what is missing."""

import os
import shutil
import sysconfig

import maturin

NO_RUST = (
    "rsgi-server: building from source needs Rust, and cargo was not found on PATH.\n"
    "Install Rust (https://rustup.rs, or your distribution's rustc and cargo packages) "
    "and retry, or install a prebuilt wheel instead "
    "(pip install --only-binary rsgi-server rsgi-server)."
)


def _need_rust():
    if not (os.environ.get("CARGO") or shutil.which("cargo")):
        raise SystemExit(NO_RUST)
    # maturin's backend runs the `maturin` command by name: under --no-build-isolation in
    # a virtualenv that is not activated, it is beside this interpreter but not on PATH.
    if not shutil.which("maturin"):
        scripts = sysconfig.get_path("scripts")
        os.environ["PATH"] = os.pathsep.join(filter(None, [scripts, os.environ.get("PATH")]))


def get_requires_for_build_wheel(config_settings=None):
    _need_rust()
    return maturin.get_requires_for_build_wheel(config_settings)


def get_requires_for_build_sdist(config_settings=None):
    _need_rust()
    return maturin.get_requires_for_build_sdist(config_settings)


def get_requires_for_build_editable(config_settings=None):
    _need_rust()
    # maturin needs the same for an editable install as for a wheel.
    return maturin.get_requires_for_build_wheel(config_settings)


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    _need_rust()
    return maturin.prepare_metadata_for_build_wheel(metadata_directory, config_settings)


def prepare_metadata_for_build_editable(metadata_directory, config_settings=None):
    _need_rust()
    return maturin.prepare_metadata_for_build_editable(metadata_directory, config_settings)


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    _need_rust()
    return maturin.build_wheel(wheel_directory, config_settings, metadata_directory)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    _need_rust()
    return maturin.build_editable(wheel_directory, config_settings, metadata_directory)


def build_sdist(sdist_directory, config_settings=None):
    _need_rust()
    return maturin.build_sdist(sdist_directory, config_settings)
