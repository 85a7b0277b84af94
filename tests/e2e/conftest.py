"""Fixtures for Trent's end-to-end suite: a real `trent serve` process, the stock AWS CLI and boto3.

Nothing is built here: `scripts/test` builds first and points `TRENT_BIN` at the binary (default
`target/debug/trent` under the repository root).
"""

from __future__ import annotations

import http.client
import json
import os
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Dict, List, Optional

import boto3
import pytest
from botocore.config import Config

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
STDERR_TAIL_LINES = 60

# Every server started by the suite, so a failing test can show what the servers logged.
_SERVERS: List["TrentServer"] = []


def trent_bin() -> Path:
    p = Path(os.environ.get("TRENT_BIN", "target/debug/trent"))
    if not p.is_absolute():
        p = REPO_ROOT / p
    if not p.is_file():
        pytest.exit(f"trent binary not found at {p}; build it first (cargo build -p trent) or set TRENT_BIN", 2)
    return p


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_env_exports(text: str) -> Dict[str, Optional[str]]:
    """Parses `trent env` output: `export K='v'` lines and `unset A B` lines (value None)."""
    out: Dict[str, Optional[str]] = {}
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        if not words:
            continue
        if words[0] == "export":
            for w in words[1:]:
                k, sep, v = w.partition("=")
                assert sep, f"unexpected export line from trent env: {line!r}"
                out[k] = v
        elif words[0] == "unset":
            for k in words[1:]:
                out[k] = None
        else:
            raise AssertionError(f"unexpected line from trent env: {line!r}")
    return out


def clean_base_env() -> Dict[str, str]:
    """The test process's environment without anything that could point the AWS tools elsewhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    # Never read the developer's ~/.aws files or the EC2 metadata service.
    env["AWS_CONFIG_FILE"] = os.devnull
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env["AWS_PAGER"] = ""
    env["TRENT_LOG"] = "warn"
    return env


class TrentServer:
    """One `trent serve` process on a data directory, with the client environment `trent env` prints."""

    def __init__(self, data_dir: Path, insecure_http: bool = False, extra_args: Optional[List[str]] = None):
        self.data_dir = data_dir
        self.insecure_http = insecure_http
        self.extra_args = list(extra_args or [])
        self.proc: Optional[subprocess.Popen] = None
        self.stderr_path = data_dir.parent / f"{data_dir.name}.stderr.log"
        self.https_url: Optional[str] = None
        self.http_url: Optional[str] = None
        self.env: Dict[str, str] = {}
        self.aws_vars: Dict[str, str] = {}

    # --- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> "TrentServer":
        last_error = None
        for _attempt in range(3):  # a picked port can be taken in between; try fresh ports then
            try:
                self._start_once()
                return self
            except PortRace as e:
                last_error = e
        raise RuntimeError(f"trent serve could not bind a free port: {last_error}")

    def _start_once(self) -> None:
        port = free_port()
        # AWS's request quotas (CreateKey 5 per second) would throttle a suite that creates keys back to back; the
        # quotas have their own tests (crates/trent-api/src/throttle.rs, crates/trent/tests/it/limits.rs).
        args = [str(trent_bin()), "serve", "--data-dir", str(self.data_dir), "--listen", f"127.0.0.1:{port}",
                "--request-quotas", "off"]
        http_port = None
        if self.insecure_http:
            http_port = free_port()
            args += ["--insecure-http", f"127.0.0.1:{http_port}"]
        args += self.extra_args
        env = clean_base_env()
        self.stderr_file = open(self.stderr_path, "ab")
        self.stderr_file.write(f"\n=== {' '.join(args)}\n".encode())
        self.stderr_file.flush()
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.stderr_file,
                                     stderr=self.stderr_file, env=env)
        if self not in _SERVERS:
            _SERVERS.append(self)
        expected_https = f"https://127.0.0.1:{port}"
        expected_http = f"http://127.0.0.1:{http_port}" if http_port else None
        deadline = time.monotonic() + START_TIMEOUT_S
        serving = self.data_dir / "serving.json"
        while True:
            rc = self.proc.poll()
            if rc is not None:
                tail = self.stderr_tail()
                if "cannot listen" in tail:
                    self.stderr_file.close()
                    raise PortRace(tail)
                raise RuntimeError(f"trent serve exited with {rc} during start-up:\n{tail}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"trent serve did not become ready in {START_TIMEOUT_S}s:\n{self.stderr_tail()}")
            try:
                s = json.loads(serving.read_text())
            except (OSError, ValueError):
                s = None
            # serving.json survives a restart; wait for the one naming this start's ports.
            if s and s.get("https") == expected_https and s.get("http") == expected_http:
                if self._healthy(expected_https):
                    break
            time.sleep(0.05)
        self.https_url, self.http_url = expected_https, expected_http
        self._load_env()

    def _healthy(self, url: str) -> bool:
        ca = self.data_dir / "tls" / "ca.pem"
        if not ca.exists():
            return False
        host, port = url.removeprefix("https://").rsplit(":", 1)
        try:
            conn = http.client.HTTPSConnection(host, int(port), context=ssl.create_default_context(cafile=str(ca)),
                                               timeout=2)
            conn.request("GET", "/healthz")
            resp = conn.getresponse()
            resp.read()
            conn.close()
            return resp.status == 200
        except (OSError, ssl.SSLError, http.client.HTTPException):
            return False

    def _load_env(self) -> None:
        out = subprocess.run([str(trent_bin()), "env", "--data-dir", str(self.data_dir)], capture_output=True,
                             text=True, env=clean_base_env(), timeout=30)
        assert out.returncode == 0, f"trent env failed ({out.returncode}): {out.stderr}"
        parsed = parse_env_exports(out.stdout)
        env = clean_base_env()
        aws_vars = {}
        for k, v in parsed.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
                aws_vars[k] = v
        for required in ("AWS_ENDPOINT_URL", "AWS_CA_BUNDLE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                         "AWS_DEFAULT_REGION", "AWS_REGION"):
            assert required in aws_vars, f"trent env did not export {required}:\n{out.stdout}"
        assert aws_vars["AWS_ENDPOINT_URL"] == self.https_url
        assert {"AWS_SESSION_TOKEN", "AWS_PROFILE"} <= {k for k, v in parsed.items() if v is None}
        self.env, self.aws_vars = env, aws_vars

    def stop(self) -> int:
        """SIGTERM, then wait; returns the exit code. Kills (and fails) if it does not stop in time."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(f"trent serve did not stop within {STOP_TIMEOUT_S}s of SIGTERM:\n"
                                     f"{self.stderr_tail()}")
        self.stderr_file.close()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stderr_tail(self, lines: int = STDERR_TAIL_LINES) -> str:
        try:
            text = self.stderr_path.read_text(errors="replace")
        except OSError:
            return "(no stderr captured)"
        return "\n".join(text.splitlines()[-lines:])

    # --- clients ---------------------------------------------------------------------------------------

    @property
    def region(self) -> str:
        return self.aws_vars["AWS_REGION"]

    @property
    def ca_bundle(self) -> str:
        return self.aws_vars["AWS_CA_BUNDLE"]

    def client(self, endpoint_url: Optional[str] = None, access_key: Optional[str] = None,
               secret_key: Optional[str] = None, verify=None):
        endpoint = endpoint_url or self.aws_vars["AWS_ENDPOINT_URL"]
        return boto3.session.Session().client(
            "kms",
            endpoint_url=endpoint,
            region_name=self.region,
            aws_access_key_id=access_key or self.aws_vars["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=secret_key or self.aws_vars["AWS_SECRET_ACCESS_KEY"],
            verify=self.ca_bundle if verify is None else verify,
            config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30),
        )

    def ssm_client(self):
        """A boto3 SSM client for the same endpoint and credentials (Parameter Store speaks on it too)."""
        return boto3.session.Session().client(
            "ssm",
            endpoint_url=self.aws_vars["AWS_ENDPOINT_URL"],
            region_name=self.region,
            aws_access_key_id=self.aws_vars["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.aws_vars["AWS_SECRET_ACCESS_KEY"],
            verify=self.ca_bundle,
            config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30),
        )

    def _aws_client(self, service: str, access_key: Optional[str] = None, secret_key: Optional[str] = None,
                    session_token: Optional[str] = None):
        return boto3.session.Session().client(
            service,
            endpoint_url=self.aws_vars["AWS_ENDPOINT_URL"],
            region_name=self.region,
            aws_access_key_id=access_key or self.aws_vars["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=secret_key or self.aws_vars["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=session_token,
            verify=self.ca_bundle,
            config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30),
        )

    def iam_client(self, access_key: Optional[str] = None, secret_key: Optional[str] = None,
                   session_token: Optional[str] = None):
        """A boto3 IAM client (Query protocol) for the same endpoint; the admin credentials unless given others."""
        return self._aws_client("iam", access_key, secret_key, session_token)

    def sts_client(self, access_key: Optional[str] = None, secret_key: Optional[str] = None,
                   session_token: Optional[str] = None):
        """A boto3 STS client for the same endpoint; the admin credentials unless given others."""
        return self._aws_client("sts", access_key, secret_key, session_token)

    def aws(self, *args: str, input: Optional[bytes] = None, cwd: Optional[Path] = None,
            check: bool = True) -> subprocess.CompletedProcess:
        """Runs the stock AWS CLI (`aws kms ...`) with the environment `trent env` printed."""
        proc = subprocess.run([aws_cli(), *args], capture_output=True, env=self.env, input=input, cwd=cwd,
                              timeout=60)
        if check and proc.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} exited {proc.returncode}:\n"
                                 f"stdout: {proc.stdout.decode(errors='replace')}\n"
                                 f"stderr: {proc.stderr.decode(errors='replace')}")
        return proc


class PortRace(Exception):
    pass


def aws_cli() -> str:
    """The `aws` executable next to this Python (the suite's venv), else the one on PATH."""
    here = Path(sys.executable).parent / "aws"
    if here.exists():
        return str(here)
    found = shutil.which("aws")
    if not found:
        pytest.exit("the AWS CLI (aws) is not installed; run scripts/test, which installs it into .venv", 2)
    return found


def trail_records(audit_dir: Path) -> List[dict]:
    """Every record of the trail's segments, oldest first. The open segment (a running server's) is zero-filled
    ahead of its records: its data ends at the first NUL byte."""
    records = []
    for seg in sorted(audit_dir.glob("trail-*.jsonl")):
        data = seg.read_bytes().split(b"\0", 1)[0]
        records += [json.loads(line) for line in data.decode().splitlines()]
    return records


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


# --- fixtures --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """The suite's shared HTTPS server. Stopped with SIGTERM at the end; it must exit 0 within 15 s."""
    srv = TrentServer(tmp_path_factory.mktemp("trent-main") / "data").start()
    yield srv
    rc = srv.stop()
    assert rc == 0, f"trent serve exited with {rc} after SIGTERM:\n{srv.stderr_tail()}"


@pytest.fixture(scope="session")
def kms(server):
    return server.client()


@pytest.fixture(scope="session")
def account_id(kms):
    return kms.create_key(Description="account probe")["KeyMetadata"]["AWSAccountId"]


@pytest.fixture
def key(kms):
    """A fresh enabled symmetric key; returns its KeyMetadata."""
    return kms.create_key(Description=unique("e2e"))["KeyMetadata"]


@pytest.fixture
def make_server(tmp_path):
    """Starts extra servers (own data dirs) for tests that stop, restart or reconfigure one."""
    started: List[TrentServer] = []

    def make(data_dir: Optional[Path] = None, insecure_http: bool = False,
             extra_args: Optional[List[str]] = None) -> TrentServer:
        srv = TrentServer(data_dir or (tmp_path / unique("data")), insecure_http=insecure_http,
                          extra_args=extra_args).start()
        started.append(srv)
        return srv

    yield make
    for srv in started:
        if srv.proc is not None and srv.proc.poll() is None:
            srv.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for srv in _SERVERS:
            state = "running" if srv.proc is not None and srv.proc.poll() is None else "stopped"
            report.sections.append((f"trent serve stderr ({state}, last {STDERR_TAIL_LINES} lines, {srv.data_dir})",
                                    srv.stderr_tail()))


def pytest_sessionfinish(session, exitstatus):
    for srv in _SERVERS:
        srv.kill()
