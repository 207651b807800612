# Sourced by scripts/setup and scripts/demo: installs Debian packages through apt-get, as root
# or with `sudo -n` (never prompting, so CI without a tty cannot hang), or says what to
# install by hand. Callers define die() and say().

# apt_install PACKAGE...: installs the packages (callers pass only the missing ones).
apt_install() {
  [ "$#" -gt 0 ] || return 0
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 ||
      die "missing Debian packages: $*; not root and no sudo, install them by hand"
    sudo=(sudo -n)
  fi
  command -v apt-get >/dev/null 2>&1 || die "missing packages: $*; no apt-get here, install them by hand"
  say "installing Debian packages: $*"
  # Through env: sudo would drop a variable set in front of it.
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# venv_package PYTHON: the Debian package that gives Debian's PYTHON its venv and ensurepip
# modules (they are split out of the interpreter's package), or nothing when it has them.
venv_package() {
  local python=$1
  "$python" -c 'import ensurepip, venv' >/dev/null 2>&1 && return 0
  case "$(command -v "$python")" in
    /usr/bin/python3) echo python3-venv ;;
    /usr/bin/python3.*) basename "$(command -v "$python")" | sed 's/$/-venv/' ;;
    *) die "$python lacks the venv/ensurepip modules" ;;
  esac
}
