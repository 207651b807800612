"""A person's round trip through the Django admin, in headless Chromium driven by Selenium.

    admin_flow.py BASE_URL --user NAME --password PW --upload FILE --title TITLE \
        --download-dir DIR --screenshot PNG

Logs in to BASE_URL/admin/ (after checking a wrong password is refused), adds a Document
with FILE uploaded and TITLE, finds it on the change list (its stylesheet loaded, the title
and the stored file name in its row), saves a screenshot of that page to PNG, downloads the
file from BASE_URL/documents/<pk>/download/ into DIR and compares its bytes with FILE, then
logs out and checks the admin asks for a login again.

Each step prints one line on success. The first failure prints what was expected, the page
it happened on and the end of chromedriver's log, and exits 1 (2 for a bad command line).
On success the last line is `admin_flow: ok pk=<pk> screenshot=<PNG>`.

Debian's chromium and chromedriver are used, never a downloaded driver: the Service names
the driver, so Selenium Manager is not consulted, and SE_OFFLINE forbids it anyway.
"""

import argparse
import os
import re
import shutil
import struct
import sys
import tempfile
import time
from urllib.parse import urljoin, urlsplit

# Everything here is on the loopback: a proxy from the environment would only be in the way
# (Selenium's own HTTP client to chromedriver honours these variables).
for _name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
    os.environ.pop(_name, None)
os.environ["SE_OFFLINE"] = "1"

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import TimeoutException, WebDriverException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# The titles of Django's error pages ("403 Forbidden", "Server Error (500)", "Not Found")
# and nginx's ("502 Bad Gateway").
ERROR_PAGE = re.compile(r"^\d{3} [A-Z]|\([45]\d\d\)$|^Not Found$")


class StepFailed(Exception):
    """A step's check did not hold; the message says what was expected and what was seen."""


class Flow:
    """The browser session and the steps, each a method that raises StepFailed."""

    def __init__(self, args, driver):
        self.args = args
        self.base = args.base_url.rstrip("/") + "/"
        self.driver = driver
        self.wait = WebDriverWait(driver, args.timeout)
        self.pk = None

    # --- helpers ---------------------------------------------------------------------------

    def url(self, path):
        return urljoin(self.base, path.lstrip("/"))

    def path(self):
        return urlsplit(self.driver.current_url).path

    def until(self, what, condition):
        """Waits for `condition(driver)` to be truthy (Selenium polls it), up to --timeout;
        an error page (403, 500, 502...) ends the wait at once."""

        def check(driver):
            got = condition(driver)
            if not got and ERROR_PAGE.search(driver.title):
                raise StepFailed(f"waiting for {what}, got an error page: {driver.title!r}")
            return got

        try:
            return self.wait.until(check)
        except TimeoutException:
            raise StepFailed(f"still waiting for {what} after {self.args.timeout} s") from None

    def at_path(self, path):
        self.until(f"the browser to reach {path}", lambda d: urlsplit(d.current_url).path == path)

    def find(self, css, what):
        found = self.driver.find_elements(By.CSS_SELECTOR, css)
        if not found:
            raise StepFailed(f"no {what} ({css}) on the page")
        return found[0]

    def texts(self, css):
        """The text of every element matching `css`, joined."""
        return " | ".join(e.text for e in self.driver.find_elements(By.CSS_SELECTOR, css))

    def fill(self, css, text):
        field = self.find(css, f"field {css}")
        field.clear()
        field.send_keys(text)

    def submit_login(self, password):
        self.fill("#id_username", self.args.user)
        self.fill("#id_password", password)
        self.find("#login-form [type=submit]", "login button").click()

    # --- steps -----------------------------------------------------------------------------

    def wrong_password_refused(self):
        self.driver.get(self.url("admin/"))
        self.at_path("/admin/login/")
        self.submit_login(self.args.password + "-wrong")
        self.until(
            "the login error",
            lambda d: d.find_elements(By.CSS_SELECTOR, ".errornote"),
        )
        note = self.find(".errornote", "login error").text
        if "correct username and password" not in note:
            raise StepFailed(f"the login error says {note!r}")
        if self.driver.get_cookie("sessionid"):
            raise StepFailed("a session cookie was set for a wrong password")
        return "a wrong password gets the admin's login error and no session"

    def log_in(self):
        self.submit_login(self.args.password)
        self.at_path("/admin/")
        if not self.driver.get_cookie("sessionid"):
            raise StepFailed("logged in without a sessionid cookie")
        self.find("a[href$='/admin/uploads/document/']", "link to the Documents admin")
        self.find("#logout-form", "logout form")
        return f"logged in as {self.args.user}; the index links to Documents"

    def add_document(self):
        self.driver.get(self.url("admin/uploads/document/add/"))
        self.at_path("/admin/uploads/document/add/")
        self.fill("#id_title", self.args.title)
        self.find("#id_file", "file input").send_keys(os.path.abspath(self.args.upload))
        self.find("input[name=_save]", "Save button").click()
        self.at_path("/admin/uploads/document/")
        success = self.texts(".messagelist .success")
        if self.args.title not in success or "added successfully" not in success:
            raise StepFailed(
                f"no 'added successfully' message naming the title (messages: {success!r};"
                f" errors: {self.texts('.errorlist, .errornote')!r})"
            )
        return "added through the admin's multipart form (CSRF token and all)"

    def listed(self):
        links = [
            a
            for a in self.driver.find_elements(By.CSS_SELECTOR, "#result_list tbody a")
            if a.text == self.args.title
        ]
        if len(links) != 1:
            raise StepFailed(f"{len(links)} rows titled {self.args.title!r} on the change list")
        href = links[0].get_attribute("href") or ""
        match = re.search(r"/admin/uploads/document/(\d+)/change/", href)
        if not match:
            raise StepFailed(f"the row links to {href!r}, not a change page")
        self.pk = int(match.group(1))
        row = links[0].find_element(By.XPATH, "./ancestor::tr").text
        stem = os.path.splitext(os.path.basename(self.args.upload))[0]
        if f"documents/{stem}" not in row:
            raise StepFailed(f"the row does not show the stored file documents/{stem}...: {row!r}")
        if self.args.title not in self.driver.page_source:
            raise StepFailed("the title is not in the page source")
        return f"listed on the change list as pk {self.pk}: {row!r}"

    def styled(self):
        # The admin's CSS comes from the collected static files: a missing or refused
        # stylesheet leaves no rules, and the screenshot would be of an unstyled page.
        rules = self.driver.execute_script(
            "return Array.from(document.styleSheets)"
            ".filter(s => s.href && s.href.includes('/static/admin/css/base'))"
            ".map(s => s.cssRules.length);"
        )
        if not rules or not all(rules):
            raise StepFailed(f"the admin's base stylesheet did not load (rule counts: {rules})")
        return f"the admin stylesheet loaded ({rules[0]} rules)"

    def screenshot(self):
        # The picture must show the object: its row's title on screen, not scrolled away.
        link = self.find("#result_list tbody th a", "first row's title")
        if link.text != self.args.title or not link.is_displayed():
            raise StepFailed(f"the first row shows {link.text!r}, displayed: {link.is_displayed()}")
        inside = self.driver.execute_script(
            "const r = arguments[0].getBoundingClientRect();"
            "return r.width > 0 && r.top >= 0 && r.bottom <= window.innerHeight"
            " && r.right <= window.innerWidth;",
            link,
        )
        if not inside:
            raise StepFailed("the title is outside the visible part of the page")
        shot = self.args.screenshot
        os.makedirs(os.path.dirname(os.path.abspath(shot)), exist_ok=True)
        if not self.driver.save_screenshot(shot):
            raise StepFailed(f"Chromium could not write {shot}")
        with open(shot, "rb") as f:
            head = f.read(24)
        if head[:8] != PNG_SIGNATURE or head[12:16] != b"IHDR":
            raise StepFailed(f"{shot} is not a PNG (starts {head[:16]!r})")
        width, height = struct.unpack(">II", head[16:24])
        if width < 100 or height < 100:
            raise StepFailed(f"{shot} is {width}x{height}")
        return f"screenshot {shot} ({width}x{height}, {os.path.getsize(shot)} bytes)"

    def download(self):
        target = os.path.abspath(self.args.download_dir)
        os.makedirs(target, exist_ok=True)
        if os.listdir(target):
            raise StepFailed(f"the download directory {target} is not empty")
        params = {"behavior": "allow", "downloadPath": target}
        try:
            self.driver.execute_cdp_cmd("Browser.setDownloadBehavior", params)
        except WebDriverException:
            # Older Chromium answers the browser-wide command only on the browser target.
            self.driver.execute_cdp_cmd("Page.setDownloadBehavior", params)
        self.driver.get(self.url(f"documents/{self.pk}/download/"))
        # Chromium writes NAME.crdownload and renames it to NAME once the last byte is in:
        # the final name appearing is the signal that the download is complete.
        done = self.until(
            f"the download in {target}",
            lambda d: [n for n in os.listdir(target) if not n.endswith(".crdownload")],
        )
        name = done[0]
        with open(os.path.join(target, name), "rb") as f:
            got = f.read()
        with open(self.args.upload, "rb") as f:
            sent = f.read()
        if got != sent:
            at = next(
                (i for i, (a, b) in enumerate(zip(got, sent)) if a != b), min(len(got), len(sent))
            )
            raise StepFailed(
                f"{name}: {len(got)} bytes downloaded, {len(sent)} uploaded,"
                f" first difference at byte {at}"
            )
        stem = os.path.splitext(os.path.basename(self.args.upload))[0]
        if not name.startswith(stem):
            raise StepFailed(f"downloaded as {name!r}, not under the uploaded name {stem}...")
        return f"downloaded {name}: {len(got)} bytes, identical to the upload"

    def log_out(self):
        self.driver.get(self.url("admin/"))
        self.at_path("/admin/")
        self.find("#logout-form [type=submit]", "logout button").click()
        # The admin's own "Logged out" page, or LOGOUT_REDIRECT_URL where the site sets one.
        self.until("the logout to leave /admin/", lambda d: self.path() != "/admin/")
        if self.driver.get_cookie("sessionid"):
            raise StepFailed("the sessionid cookie survived the logout")
        self.driver.get(self.url("admin/"))
        self.at_path("/admin/login/")
        self.find("#id_username", "username field")
        return "logged out; /admin/ asks for a login again"


STEPS = [
    ("wrong password", Flow.wrong_password_refused),
    ("log in", Flow.log_in),
    ("add document", Flow.add_document),
    ("listed", Flow.listed),
    ("stylesheet", Flow.styled),
    ("screenshot", Flow.screenshot),
    ("download", Flow.download),
    ("log out", Flow.log_out),
]


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("base_url", help="the site's root, e.g. http://127.0.0.1:8080/")
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--upload", required=True, help="the file to upload")
    p.add_argument("--title", required=True, help="the Document's title")
    p.add_argument("--download-dir", required=True, help="an empty (or new) directory")
    p.add_argument("--screenshot", required=True, help="where the change list's PNG goes")
    p.add_argument("--chromium", default="/usr/bin/chromium")
    p.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    p.add_argument("--timeout", type=float, default=30.0, help="per wait, in seconds")
    args = p.parse_args(argv)
    for what, path in (
        ("--upload", args.upload),
        ("--chromium", args.chromium),
        ("--chromedriver", args.chromedriver),
    ):
        if not os.path.isfile(path):
            p.error(f"{what} {path}: no such file")
    return args


def start_browser(args, profile, log):
    options = webdriver.ChromeOptions()
    options.binary_location = args.chromium
    flags = [
        "--headless=new",
        f"--user-data-dir={profile}",
        "--window-size=1280,900",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--no-proxy-server",
        # Nothing but the site under test: no component updates, sync or other calls home.
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--password-store=basic",
    ]
    if os.geteuid() == 0:
        flags.append("--no-sandbox")  # Chromium refuses to start its sandbox as root
    for flag in flags:
        options.add_argument(flag)
    options.add_experimental_option(
        "prefs", {"download.prompt_for_download": False, "safebrowsing.enabled": False}
    )
    service = Service(args.chromedriver, log_output=log, service_args=["--log-level=WARNING"])
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(args.timeout)
    return driver


def tail(path, lines=15):
    """The end of chromedriver's log, less Chromium's complaints that a container has no
    D-Bus (every run has them; they say nothing about the failure)."""
    try:
        with open(path, errors="replace") as f:
            kept = [line for line in f if "dbus" not in line.lower() and "D-Bus" not in line]
        return "".join(kept[-lines:])
    except OSError:
        return ""


def main(argv):
    args = parse_args(argv)
    profile = tempfile.mkdtemp(prefix="rsgi-chromium-")
    log = os.path.join(profile, "chromedriver.log")
    driver = None
    step = "start Chromium"
    try:
        started = time.monotonic()
        driver = start_browser(args, profile, log)
        version = driver.capabilities.get("browserVersion")
        print(f"admin_flow: Chromium {version} started", flush=True)
        flow = Flow(args, driver)
        for step, run in STEPS:
            print(f"admin_flow: {step}: {run(flow)}", flush=True)
        print(f"admin_flow: ok pk={flow.pk} screenshot={os.path.abspath(args.screenshot)} "
              f"({time.monotonic() - started:.1f} s)", flush=True)
        return 0
    except (StepFailed, WebDriverException, OSError) as e:
        print(f"admin_flow: FAILED at step '{step}': {type(e).__name__}: {e}", file=sys.stderr)
        if driver is not None:
            try:
                print(f"admin_flow: page {driver.current_url} ({driver.title!r}):", file=sys.stderr)
                body = driver.find_element(By.TAG_NAME, "body").text
                print(body[:1500], file=sys.stderr)
            except WebDriverException as page_error:
                print(f"admin_flow: (page not readable: {page_error})", file=sys.stderr)
        log_tail = tail(log)
        if log_tail:
            print(f"admin_flow: end of chromedriver's log:\n{log_tail}", file=sys.stderr)
        return 1
    finally:
        if driver is not None:
            try:
                driver.quit()
            except WebDriverException:
                pass
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
