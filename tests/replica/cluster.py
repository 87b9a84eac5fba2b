"""Throwaway PostgreSQL clusters in a temporary directory, on free ports: a primary, hot
standbys made with pg_basebackup, and restores from a base backup and archived WAL.

Run as the postgres user when we are root (initdb refuses root), as ourselves otherwise."""

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg


def bin_dir() -> Path | None:
    """The PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup), newest first."""
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").exists() and Path(candidate, "pg_basebackup").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def missing() -> str | None:
    if bin_dir() is None:
        return "needs the PostgreSQL server binaries (apt-get install -y postgresql)"
    if os.geteuid() == 0:
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            return "needs a postgres user to run the throwaway clusters as"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_owner(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def run(*args, check=True, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603
        _as_owner([str(a) for a in args]), check=check, capture_output=True, text=True, **kwargs
    )


class Workspace:
    """A directory the postgres user owns; every cluster started in it is stopped by
    `close`. A temporary one, deleted by `close`, unless `root` names one to keep (the
    benchmark keeps its seeded cluster between runs that way)."""

    def __init__(self, root: Path | None = None):
        self.keep = root is not None
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="registry16-pg-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        self.bin = bin_dir()
        self.clusters: list[Cluster] = []

    def cluster(self, name: str) -> "Cluster":
        cluster = Cluster(self, name)
        self.clusters.append(cluster)
        return cluster

    def close(self) -> None:
        for cluster in self.clusters:
            cluster.stop()
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)


class Cluster:
    def __init__(self, workspace: Workspace, name: str):
        self.workspace = workspace
        self.data = workspace.root / name
        self.log = workspace.root / f"{name}.log"
        self.port = free_port()

    @property
    def bin(self) -> Path:
        return self.workspace.bin

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def initdb(self) -> "Cluster":
        run(self.bin / "initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "-E", "UTF8")
        with open(self.data / "pg_hba.conf", "a") as hba:
            hba.write("host replication all 127.0.0.1/32 trust\n")
        return self

    def basebackup_of(self, primary: "Cluster", *extra: str) -> "Cluster":
        """A copy of `primary`; with `-R` it starts as its streaming standby."""
        run(
            self.bin / "pg_basebackup",
            "-h",
            "127.0.0.1",
            "-p",
            primary.port,
            "-U",
            "postgres",
            "-D",
            self.data,
            "--checkpoint=fast",
            *extra,
        )
        return self

    def start(self, *settings: str) -> "Cluster":
        options = [
            f"-p {self.port}",
            "-c listen_addresses=127.0.0.1",
            f"-c unix_socket_directories={self.workspace.root}",
            "-c fsync=off",  # a throwaway cluster: speed over durability of the test data
            *(f"-c {setting}" for setting in settings),
        ]
        run(
            self.bin / "pg_ctl",
            "-D",
            self.data,
            "-o",
            " ".join(options),
            "-l",
            self.log,
            "-w",
            "-t",
            "60",
            "start",
        )
        self.settings = settings
        return self

    def running(self) -> bool:
        return run(self.bin / "pg_ctl", "-D", self.data, "status", check=False).returncode == 0

    def stop(self) -> None:
        if self.data.exists() and self.running():
            run(self.bin / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop", check=False)

    def connect(self, database: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(self.url(database), autocommit=True, connect_timeout=5)

    def sql(self, statement: str, params=None, database: str = "postgres"):
        with self.connect(database) as conn:
            cursor = conn.execute(statement, params)
            return cursor.fetchall() if cursor.description else None

    def wait_until(self, statement: str, expected, timeout: float = 30.0, database="postgres"):
        deadline = time.monotonic() + timeout
        while True:
            try:
                rows = self.sql(statement, database=database)
            except psycopg.OperationalError:
                rows = None
            if rows is not None and rows[0][0] == expected:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{statement!r} never gave {expected!r} (last: {rows!r})")
            time.sleep(0.1)
