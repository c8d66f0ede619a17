"""The operator CLI end to end: `mailnode user|domain|alias|quota|config|
status|remove|leave|transfer-leadership` against a real node over its admin
socket.

Every refused command must exit 1 (the node said no) or 2 (the command line
is wrong), say why in one line on stderr, and change nothing: the user,
alias and domain lists are compared before and after each refusal.
"""
import json
import os
import pty
import select
import subprocess
import time

import pytest

import harness

DOMAIN = "example.test"


def cli(node, *args, input=None):
    """Run the CLI without asserting success."""
    return node.cli(*args, input=input, check=False)


def ok(node, *args, input=None):
    p = cli(node, *args, input=input)
    assert p.returncode == 0, "mailnode %s -> %d\n%s%s" % (
        " ".join(args), p.returncode, p.stdout, p.stderr)
    return p


def jcli(node, *args, input=None):
    """`mailnode --json ARGS`, parsed."""
    return json.loads(ok(node, "--json", *args, input=input).stdout)


def state(node):
    """Everything a refused command must leave as it was."""
    return (jcli(node, "user", "list")["users"],
            jcli(node, "alias", "list")["aliases"],
            jcli(node, "domain", "list")["domains"],
            jcli(node, "config", "list")["config"])


def add_user(node, address, password="pw-Secret-1", *extra):
    ok(node, "user", "add", address, "--password-stdin", *extra,
       input=password + "\n")


def refused(node, args, code=1, input=None, message=None):
    """Run a command that must be refused; check that nothing changed."""
    before = state(node)
    p = cli(node, *args, input=input)
    assert p.returncode == code, "mailnode %s -> %d\n%s%s" % (
        " ".join(args), p.returncode, p.stdout, p.stderr)
    lines = p.stderr.splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("mailnode"), p.stderr
    assert p.stdout == ""
    if message is not None:
        assert message in lines[0], lines[0]
    assert state(node) == before
    return lines[0]


@pytest.fixture
def acct(node):
    """A node with the domain example.test and the user a@example.test."""
    ok(node, "domain", "add", DOMAIN)
    add_user(node, "a@" + DOMAIN)
    return node


# --- users ------------------------------------------------------------------

def test_user_add_list_show(node):
    ok(node, "domain", "add", DOMAIN)
    p = ok(node, "user", "add", "Alice@Example.Test", "--password-stdin",
           "--quota-bytes", "2G", "--quota-messages", "500",
           input="alice-password\n")
    assert "created user" in p.stdout
    add_user(node, "bob@" + DOMAIN)
    assert ok(node, "user", "list").stdout.split() == [
        "alice@example.test", "bob@example.test"]
    show = ok(node, "user", "show", "alice@example.test").stdout
    assert "2 GiB" in show and "500" in show and "yes" in show
    u = jcli(node, "user", "show", "alice@example.test")
    assert u["address"] == "alice@example.test"
    assert u["quota_bytes"] == 2 << 30
    assert u["quota_messages"] == 500
    assert u["enabled"] is True
    assert u["used_bytes"] == 0 and u["used_messages"] == 0


def test_duplicate_user_refused(acct):
    line = refused(acct, ["user", "add", "a@" + DOMAIN, "--password-stdin"],
                   input="other-password\n")
    assert line == "mailnode: user a@example.test already exists"
    # Upper case is the same address.
    refused(acct, ["user", "add", "A@EXAMPLE.TEST", "--password-stdin"],
            input="other-password\n", message="already exists")


@pytest.mark.parametrize("address,why", [
    ("not-an-address", "expected local@domain"), ("a b@example.test", "bad character"),
    ("@example.test", "empty local part"), ("a@", "a domain is 1 to 253"),
    ("a@bad..test", "empty label"), ("a@exa_mple.test", "invalid domain"),
    (".a@example.test", "bad character"), ("a/b@example.test", "bad character"),
    ("x" * 65 + "@example.test", "longer than 64"), ("a\tb@example.test", "bad character"),
])
def test_invalid_address_refused(acct, address, why):
    refused(acct, ["user", "add", address, "--password-stdin"],
            input="some-password\n", message=why)


def test_unknown_domain_refused(acct):
    refused(acct, ["user", "add", "b@unknown.test", "--password-stdin"],
            input="some-password\n",
            message="domain unknown.test does not exist")


def test_user_add_without_tty_refused(acct):
    # stdin is a pipe, not a terminal, and there is no --password-stdin.
    for inp in ("typed-password\n", ""):
        line = refused(acct, ["user", "add", "c@" + DOMAIN], code=2, input=inp)
        assert "--password-stdin" in line
    refused(acct, ["user", "passwd", "a@" + DOMAIN], code=2, input="x\n")
    assert "c@example.test" not in ok(acct, "user", "list").stdout


def test_password_never_on_command_line(acct):
    refused(acct, ["user", "add", "c@" + DOMAIN, "--password", "pw"], code=2)
    refused(acct, ["user", "add", "c@" + DOMAIN, "pw", "--password-stdin"],
            code=2, input="pw\n")


@pytest.mark.parametrize("password,why", [
    ("", "empty"), ("\n", "empty"), ("x" * 1025, "longer than 1024"),
    ("bell\x07pw", None),
])
def test_bad_password_refused(acct, password, why):
    refused(acct, ["user", "add", "c@" + DOMAIN, "--password-stdin"],
            input=password, message=why)


def test_password_of_1024_bytes_and_crlf(acct):
    add_user(acct, "long@" + DOMAIN, "y" * 1024)
    ok(acct, "user", "add", "crlf@" + DOMAIN, "--password-stdin",
       input="crlf-password\r\nsecond line ignored\n")
    assert "crlf@example.test" in ok(acct, "user", "list").stdout


def test_user_passwd(acct):
    p = ok(acct, "user", "passwd", "a@" + DOMAIN, "--password-stdin",
           input="a-new-password\n")
    assert "changed the password" in p.stdout
    refused(acct, ["user", "passwd", "nobody@" + DOMAIN, "--password-stdin"],
            input="whatever-pw\n", message="no user nobody@example.test")


def test_user_enable_disable(acct):
    ok(acct, "user", "disable", "a@" + DOMAIN)
    assert jcli(acct, "user", "show", "a@" + DOMAIN)["enabled"] is False
    assert "enabled    no" in ok(acct, "user", "show", "a@" + DOMAIN).stdout
    ok(acct, "user", "enable", "a@" + DOMAIN)
    assert jcli(acct, "user", "show", "a@" + DOMAIN)["enabled"] is True
    refused(acct, ["user", "disable", "nobody@" + DOMAIN], message="no user")


def maildir(node, address):
    local, domain = address.split("@")
    return os.path.join(node.data_dir, "mail", domain, local)


def test_user_del_removes_user_and_maildir(acct):
    add_user(acct, "gone@" + DOMAIN)
    path = maildir(acct, "gone@" + DOMAIN)
    assert os.path.isdir(path)
    p = ok(acct, "user", "del", "gone@" + DOMAIN)
    assert "deleted user gone@example.test" in p.stdout
    assert "gone@example.test" not in ok(acct, "user", "list").stdout
    deadline = time.time() + 10
    while os.path.exists(path) and time.time() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(path)
    assert os.path.isdir(maildir(acct, "a@" + DOMAIN))
    refused(acct, ["user", "del", "gone@" + DOMAIN],
            message="no user gone@example.test")
    refused(acct, ["user", "show", "gone@" + DOMAIN], message="no user")


def test_address_needing_escapes(acct):
    # Characters that mean something in a URL travel percent-encoded.
    for address in ("a+tag@example.test", "o'hara%x@example.test",
                    "q?x#y@example.test"):
        add_user(acct, address)
        assert jcli(acct, "user", "show", address)["address"] == address
        ok(acct, "quota", "set", address, "--messages", "7")
        ok(acct, "user", "del", address)
    assert ok(acct, "user", "list").stdout.split() == ["a@example.test"]


# --- aliases and domains ----------------------------------------------------

def test_alias_loop_refused(acct):
    ok(acct, "alias", "add", "b@" + DOMAIN, "a@" + DOMAIN)
    ok(acct, "alias", "add", "c@" + DOMAIN, "b@" + DOMAIN)
    # c -> b exists; b -> c would close the loop c -> b -> c.
    refused(acct, ["alias", "add", "b@" + DOMAIN, "c@" + DOMAIN],
            message="would create a loop")
    refused(acct, ["alias", "add", "c@" + DOMAIN, "c@" + DOMAIN],
            message="would create a loop")
    listing = ok(acct, "alias", "list").stdout
    assert "b@example.test  ->  a@example.test" in listing
    assert "c@example.test  ->  b@example.test" in listing


def test_alias_to_unknown_user_refused(acct):
    refused(acct, ["alias", "add", "x@" + DOMAIN, "nobody@" + DOMAIN],
            message="alias target nobody@example.test is neither a user nor an alias")
    refused(acct, ["alias", "add", "x@" + DOMAIN, "a@" + DOMAIN, "nobody@" + DOMAIN],
            message="nobody@example.test")
    refused(acct, ["alias", "add", "x@other.test", "a@" + DOMAIN],
            message="domain other.test does not exist")
    refused(acct, ["alias", "add", "a@" + DOMAIN, "a@" + DOMAIN])
    refused(acct, ["alias", "add", "x@" + DOMAIN, "not an address"], message="invalid")
    refused(acct, ["alias", "add", "x@" + DOMAIN], code=2)


def test_alias_add_list_del(acct):
    add_user(acct, "b@" + DOMAIN)
    ok(acct, "alias", "add", "team@" + DOMAIN, "a@" + DOMAIN, "b@" + DOMAIN)
    ok(acct, "alias", "add", "@" + DOMAIN, "a@" + DOMAIN)
    aliases = {a["address"]: a["targets"] for a in jcli(acct, "alias", "list")["aliases"]}
    assert aliases == {"team@example.test": ["a@example.test", "b@example.test"],
                       "@example.test": ["a@example.test"]}
    ok(acct, "alias", "del", "team@" + DOMAIN)
    refused(acct, ["alias", "del", "team@" + DOMAIN], message="no alias team@example.test")
    refused(acct, ["user", "add", "@" + DOMAIN, "--password-stdin"], input="pw-pw-pw\n")


def test_domain_del_in_use_refused(acct):
    ok(acct, "domain", "add", "other.test")
    assert ok(acct, "domain", "list").stdout.split() == ["example.test", "other.test"]
    refused(acct, ["domain", "del", DOMAIN], message="still has users or aliases")
    refused(acct, ["domain", "add", DOMAIN], message="already exists")
    refused(acct, ["domain", "del", "nowhere.test"], message="no domain nowhere.test")
    refused(acct, ["domain", "add", "bad..domain"], message="invalid domain")
    ok(acct, "alias", "add", "x@other.test", "a@" + DOMAIN)
    refused(acct, ["domain", "del", "other.test"], message="still has users or aliases")
    ok(acct, "alias", "del", "x@other.test")
    ok(acct, "domain", "del", "other.test")
    ok(acct, "user", "del", "a@" + DOMAIN)
    ok(acct, "domain", "del", DOMAIN)
    assert ok(acct, "domain", "list").stdout == ""


# --- quotas -----------------------------------------------------------------

def test_quota_set_then_show(acct):
    address = "a@" + DOMAIN
    ok(acct, "quota", "set", address, "--bytes", "512M", "--messages", "1000")
    u = jcli(acct, "user", "show", address)
    assert (u["quota_bytes"], u["quota_messages"]) == (512 << 20, 1000)
    show = ok(acct, "user", "show", address).stdout
    assert "512 MiB" in show and "1000" in show
    # One limit alone keeps the other.
    ok(acct, "quota", "set", address, "--bytes", "3G")
    u = jcli(acct, "user", "show", address)
    assert (u["quota_bytes"], u["quota_messages"]) == (3 << 30, 1000)
    ok(acct, "quota", "set", address, "--messages", "20")
    u = jcli(acct, "user", "show", address)
    assert (u["quota_bytes"], u["quota_messages"]) == (3 << 30, 20)
    # 0: back to the cluster default.
    ok(acct, "config", "set", "quota.storage", str(1 << 30))
    ok(acct, "quota", "set", address, "--bytes", "0")
    u = jcli(acct, "user", "show", address)
    assert u["quota_bytes"] == 1 << 30 and u["user_quota_bytes"] == 0
    assert "cluster default" in ok(acct, "user", "show", address).stdout


@pytest.mark.parametrize("args", [
    [], ["--bytes", "lots"], ["--bytes", "1.5G"], ["--bytes", "-1"],
    ["--messages", "x"], ["--bytes", "99999999999999999999"], ["--bytes", "20000P"],
])
def test_quota_bad_input_refused(acct, args):
    refused(acct, ["quota", "set", "a@" + DOMAIN] + args, code=2)


def test_quota_unknown_user_refused(acct):
    refused(acct, ["quota", "set", "nobody@" + DOMAIN, "--bytes", "1G"], message="no user")
    refused(acct, ["quota", "set", "nobody@" + DOMAIN, "--bytes", "1G", "--messages", "5"],
            message="no user")


# --- configuration ----------------------------------------------------------

def test_config_set_get_list_del(node):
    p = ok(node, "config", "set", "health.max_lag", "500")
    assert "health.max_lag = 500" in p.stdout
    ok(node, "config", "set", "pop3.seen_on_retr", "true")
    ok(node, "config", "set", "custom.greeting", "hello world")
    assert ok(node, "config", "get", "health.max_lag").stdout == "500\n"
    assert jcli(node, "config", "get", "custom.greeting") == {
        "key": "custom.greeting", "value": "hello world"}
    listing = ok(node, "config", "list").stdout
    assert "health.max_lag = 500" in listing
    assert "custom.greeting = hello world" in listing
    ok(node, "config", "del", "custom.greeting")
    refused(node, ["config", "get", "custom.greeting"], message="is not set")
    refused(node, ["config", "del", "custom.greeting"], message="is not set")


@pytest.mark.parametrize("key,value,why", [
    ("health.max_lag", "lots", "non-negative integer"),
    ("quota.storage", "-5", "non-negative integer"),
    ("quota.messages", "", "non-negative integer"),
    ("pop3.seen_on_retr", "yes", "true or false"),
    ("Bad.Key", "1", "invalid key"),
    ("a key", "1", "invalid key"),
])
def test_config_bad_value_refused(node, key, value, why):
    ok(node, "config", "set", "quota.storage", "1000")
    line = refused(node, ["config", "set", key, value], message=why)
    assert line.startswith("mailnode: config %s:" % key)
    assert ok(node, "config", "get", "quota.storage").stdout == "1000\n"


# --- --json -----------------------------------------------------------------

def test_json_output_parses(acct):
    assert jcli(acct, "domain", "add", "j.test") == {"ok": True, "message": "done"}
    assert jcli(acct, "user", "add", "j@j.test", "--password-stdin",
                input="json-password\n")["ok"] is True
    assert jcli(acct, "alias", "add", "k@j.test", "j@j.test")["ok"] is True
    assert jcli(acct, "quota", "set", "j@j.test", "--bytes", "1K")["ok"] is True
    assert jcli(acct, "config", "set", "quota.messages", "9")["ok"] is True
    assert jcli(acct, "user", "list") == {"users": ["a@example.test", "j@j.test"]}
    assert jcli(acct, "domain", "list") == {"domains": ["example.test", "j.test"]}
    assert jcli(acct, "alias", "list") == {
        "aliases": [{"address": "k@j.test", "targets": ["j@j.test"]}]}
    assert {"key": "quota.messages", "value": "9"} in jcli(acct, "config", "list")["config"]
    assert jcli(acct, "user", "show", "j@j.test")["quota_bytes"] == 1024
    st = jcli(acct, "status")
    assert st["leader"] == 1 and len(st["members"]) == 1
    # A refusal: the API's error body on stdout, one line on stderr.
    p = cli(acct, "--json", "user", "add", "j@j.test", "--password-stdin",
            input="json-password\n")
    assert p.returncode == 1
    assert "error" in json.loads(p.stdout)
    assert p.stderr.count("\n") == 1


# --- the cluster ------------------------------------------------------------

def test_status_single_leader(node):
    out = ok(node, "status").stdout
    lines = out.splitlines()
    assert lines[0].startswith("term ") and "leader node 1 (%s)" % node.addr("cluster") in lines[0]
    header = [l for l in lines if l.startswith("ID ")]
    assert header and all(h in header[0] for h in (
        "ADDRESS", "ROLE", "VOTER", "STATE", "LAST CONTACT", "MATCH", "APPLIED", "LAG"))
    rows = [l.split() for l in lines if l.startswith("1 ")]
    assert len(rows) == 1
    assert rows[0][:5] == ["1", node.addr("cluster"), "leader", "voter", "ok"]
    st = jcli(node, "status")
    assert st["node"] == 1 and st["leader"] == 1 and st["term"] >= 1
    (m,) = st["members"]
    assert m["id"] == 1 and m["leader"] is True and m["role"] == "voter"
    assert m["state"] == "leader" and m["lag"] == 0
    assert m["applied_index"] >= 1 and m["match_index"] >= 1


def test_membership_refusals_single_node(node):
    refused(node, ["leave"], message="only voter")
    refused(node, ["remove", "1"], message="only voter")
    refused(node, ["remove", "7"], message="node 7 is not a member")
    refused(node, ["remove", "0"], code=2)
    refused(node, ["remove", "x"], code=2)
    refused(node, ["remove"], code=2)
    refused(node, ["transfer-leadership"], message="no other voter")
    refused(node, ["transfer-leadership", "9"], message="not a member")
    assert jcli(node, "status")["leader"] == 1


# --- the command line itself ------------------------------------------------

@pytest.mark.parametrize("args", [
    ["user"], ["user", "frobnicate"], ["user", "add"], ["user", "add", "a@b", "c@d"],
    ["user", "add", "a@example.test", "--quota-bytes"],
    ["user", "add", "a@example.test", "--quota-bytes", "2X", "--password-stdin"],
    ["user", "list", "extra"], ["user", "show"], ["user", "del"],
    ["domain"], ["domain", "add"], ["domain", "add", "a.test", "b.test"],
    ["alias", "add", "x@example.test"], ["alias", "del"], ["alias", "list", "x"],
    ["quota"], ["quota", "set"], ["config", "set", "k"], ["config", "get"],
    ["config", "set", "", "v"], ["config", "list", "x"], ["status", "x"],
    ["leave", "now"], ["transfer-leadership", "1", "2"], ["user", "list", "--bogus"],
    ["user", "add", "a@example.test", "--bogus", "--password-stdin"],
    ["quota", "set", "a@example.test", "--bytes=1G", "--files", "3"],
])
def test_usage_errors_change_nothing(acct, args):
    line = refused(acct, args, code=2, input="pw-pw-pw\n")
    assert "--help" in line


def test_help_for_every_command():
    p = harness.run_cli(["--help"])
    names = ["status", "remove", "leave", "transfer-leadership", "user", "domain",
             "alias", "quota", "config"]
    for name in names:
        assert "\n  %s " % name in p.stdout, name
        h = harness.run_cli([name, "--help"])
        assert h.stdout.startswith("usage: mailnode"), name
    user_help = harness.run_cli(["user", "add", "--help"]).stdout
    for word in ("user add ADDRESS", "--password-stdin", "--quota-bytes",
                 "--quota-messages", "user del", "user passwd", "user list",
                 "user show", "user enable", "user disable"):
        assert word in user_help, word
    assert "config set KEY VALUE" in harness.run_cli(["config", "--help"]).stdout
    assert "quota set ADDRESS" in harness.run_cli(["quota", "--help"]).stdout


def test_no_node_running(tmp_path):
    n = harness.Node(base=str(tmp_path))
    for args in (["status"], ["user", "list"], ["config", "get", "x"]):
        p = n.cli(*args, check=False)
        assert p.returncode == 1
        assert p.stderr == ("mailnode: no node is running on %s (admin socket not found)\n"
                            % n.data_dir)
    # The terminal check comes first: nothing is asked of a node.
    p = n.cli("user", "add", "a@b.test", check=False, input="")
    assert p.returncode == 2


# --- secrets ----------------------------------------------------------------

def files_containing(root, needles):
    hits = []
    for dirpath, _, files in os.walk(root):
        for f in files:
            path = os.path.join(dirpath, f)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            with open(path, "rb") as fh:
                data = fh.read()
            hits += [(path, n) for n in needles if n in data]
    return hits


def test_no_password_in_clear_in_data_dir(acct):
    passwords = ["Zebra-Quartz-7741-cleartext", "Mango#Vortex!9023-cleartext",
                 "Kettle-Orbit-5518-changed"]
    add_user(acct, "p1@" + DOMAIN, passwords[0])
    add_user(acct, "p2@" + DOMAIN, passwords[1], "--quota-bytes", "1G")
    ok(acct, "user", "passwd", "p1@" + DOMAIN, "--password-stdin",
       input=passwords[2] + "\n")
    # Refused attempts carry passwords too.
    cli(acct, "user", "add", "p2@" + DOMAIN, "--password-stdin",
        input=passwords[0] + "x\n")
    needles = [p.encode() for p in passwords] + [(passwords[0] + "x").encode()]
    files = [os.path.join(d, f) for d, _, fs in os.walk(acct.data_dir) for f in fs]
    assert any("/raft/" in f for f in files), files
    assert any(f.endswith(".mdb") for f in files), files
    assert files_containing(acct.data_dir, needles) == []
    # Nor in the node's log.
    log = acct.log().encode()
    assert not [n for n in needles if n in log]


def run_on_tty(node, args, answers, timeout=60):
    """Run the CLI with a pseudo-terminal as stdin/stdout/stderr; write each
    answer after the next prompt. Returns (exit code, terminal output)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([harness.BIN, "--config", node.config_path] + args,
                            stdin=slave, stdout=slave, stderr=slave,
                            env=harness.sanitizer_env(), close_fds=True)
    os.close(slave)
    out = b""
    pending = list(answers)
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            r, _, _ = select.select([master], [], [], 0.2)
            if r:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    break
                out += chunk
                if pending and out.rstrip().endswith(b":"):
                    os.write(master, pending.pop(0).encode() + b"\n")
                    out += b"<answered>"
            elif proc.poll() is not None:
                break
        proc.wait(timeout=max(1, deadline - time.time()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    text = out.decode("utf-8", "replace")
    assert not harness.SANITIZER_PATTERNS.search(text), text
    return proc.returncode, text


def test_password_prompt_on_terminal(acct):
    rc, text = run_on_tty(acct, ["user", "add", "tty@" + DOMAIN],
                          ["Typed-On-Tty-991", "Typed-On-Tty-991"])
    assert rc == 0, text
    assert "New password for tty@example.test:" in text
    assert "Retype" in text
    assert "Typed-On-Tty-991" not in text  # echo was off
    assert "tty@example.test" in ok(acct, "user", "list").stdout
    # The two entries differ: refused, nothing created.
    before = state(acct)
    rc, text = run_on_tty(acct, ["user", "add", "tty2@" + DOMAIN],
                          ["First-Entry-123", "Second-Entry-456"])
    assert rc == 1, text
    assert "the passwords do not match" in text
    assert state(acct) == before
    # An existing user is refused before any password is asked.
    rc, text = run_on_tty(acct, ["user", "add", "tty@" + DOMAIN], [])
    assert rc == 1 and "already exists" in text and "password" not in text.lower()


# --- a cluster of three -----------------------------------------------------

@pytest.fixture
def trio(tmp_path):
    """Three started nodes: node 1 initialised, nodes 2 and 3 joined."""
    nodes = [harness.Node(i, base=str(tmp_path)) for i in (1, 2, 3)]
    try:
        nodes[0].init()
        nodes[0].start()
        nodes[0].wait_leader()
        token = nodes[0].cli("token").stdout.strip()
        for n in nodes[1:]:
            n.cli("join", "--peer", nodes[0].addr("cluster"), "--token", token)
            n.start(wait=False)
        for n in nodes[1:]:
            n.wait_healthy(60)
        yield nodes
        for n in nodes:
            n.stop()
    finally:
        for n in nodes:
            n.cleanup()


def wait_status(node, pred, timeout=30):
    deadline = time.time() + timeout
    while True:
        st = jcli(node, "status")
        if pred(st) or time.time() > deadline:
            return st
        time.sleep(0.1)


def test_cluster_status_transfer_leave_remove(trio):
    n1, n2, n3 = trio
    st = wait_status(n2, lambda s: len(s["members"]) == 3 and
                     all(m["role"] == "voter" for m in s["members"]))
    assert sorted(m["id"] for m in st["members"]) == [1, 2, 3]
    assert all(m["role"] == "voter" for m in st["members"]), st
    out = ok(n3, "status").stdout
    assert "leader node 1" in out and "as seen from node 3" in out
    assert len([l for l in out.splitlines() if l.split()[:1] in (["1"], ["2"], ["3"])]) == 3

    # Writes through any member.
    ok(n2, "domain", "add", DOMAIN)
    add_user(n3, "c@" + DOMAIN)
    assert ok(n1, "user", "list").stdout == "c@example.test\n"

    p = ok(n1, "transfer-leadership", "2")
    assert "node 2 leads" in p.stdout
    assert wait_status(n3, lambda s: s["leader"] == 2)["leader"] == 2
    refused(n1, ["transfer-leadership", "7"], message="not a member")

    # A follower leaves; then the leader leaves (it hands leadership over).
    p = ok(n3, "leave")
    assert "node 3 left the cluster" in p.stdout
    st = wait_status(n1, lambda s: len(s["members"]) == 2)
    assert sorted(m["id"] for m in st["members"]) == [1, 2]
    n3.stop()
    refused(n1, ["remove", "3"], message="not a member")
    ok(n2, "leave")
    st = wait_status(n1, lambda s: [m["id"] for m in s["members"]] == [1] and s["leader"] == 1)
    assert [m["id"] for m in st["members"]] == [1] and st["leader"] == 1
    n2.stop()
    assert ok(n1, "user", "list").stdout == "c@example.test\n"


def test_no_leader_says_retry(trio):
    n1, n2, n3 = trio
    wait_status(n1, lambda s: all(m["role"] == "voter" for m in s["members"]))
    ok(n1, "domain", "add", DOMAIN)
    n2.stop()
    n3.stop()
    # Node 1 alone is no majority of three: writes fail with 503.
    deadline = time.time() + 60
    while True:
        p = cli(n1, "domain", "add", "x%d.test" % int(time.time() * 1000))
        if p.returncode != 0 or time.time() > deadline:
            break
    assert p.returncode == 1, p.stdout + p.stderr
    assert "the cluster has no leader right now" in p.stderr
    assert "retry" in p.stderr
    assert p.stderr.count("\n") == 1
    st = jcli(n1, "status")
    assert st["leader"] == 0
    assert "no leader known" in ok(n1, "status").stdout


# --- the client against a node that misbehaves -------------------------------

class FakeAdmin:
    """A Unix socket at <data>/admin.sock answering every request with the
    same bytes (then closing), the way a broken or hostile peer would."""

    def __init__(self, data_dir, answer):
        import socket
        import threading
        os.makedirs(data_dir, exist_ok=True)
        self.path = os.path.join(data_dir, "admin.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(8)
        self.answer = answer
        self.requests = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                data = b""
                try:
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    self.requests.append(data)
                    conn.sendall(self.answer)
                except OSError:
                    pass

    def close(self):
        self.sock.close()


@pytest.mark.parametrize("answer,why", [
    (b"", "closed the connection without an answer"),
    (b"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP answer"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n", "body exceeds"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{\"users\"", "before the answer was complete"),
    (b"HTTP/1.1 200 OK\r\nX-Filler: " + b"a" * 70000, "headers exceed"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "transfer coding"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "is not JSON"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", "malformed Content-Length"),
    (b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 22\r\n\r\n"
     b"{\"error\": \"no leader\"}", "the cluster has no leader right now (no leader); retry"),
    (b"HTTP/1.1 409 Conflict\r\nContent-Length: 30\r\n\r\n"
     b"{\"error\": \"bad\\nline\\u0007x\"}   ", "bad?line?x"),
])
def test_client_refuses_bad_answers(tmp_path, answer, why):
    n = harness.Node(base=str(tmp_path))
    fake = FakeAdmin(n.data_dir, answer)
    try:
        p = n.cli("user", "list", check=False, timeout=30)
        assert p.returncode == 1, p.stdout + p.stderr
        assert p.stdout == ""
        assert p.stderr.count("\n") == 1 and why in p.stderr, p.stderr
        assert fake.requests and fake.requests[0].startswith(b"GET /v1/users HTTP/1.1\r\n")
    finally:
        fake.close()


def test_client_sends_password_only_in_the_body(tmp_path):
    n = harness.Node(base=str(tmp_path))
    fake = FakeAdmin(n.data_dir, b"HTTP/1.1 404 Not Found\r\nContent-Length: 24\r\n\r\n"
                                 b"{\"error\": \"no such user\"}")
    try:
        # The first request checks that the user does not exist yet (404
        # here); the second carries the password in its JSON body.
        p = n.cli("user", "add", "a+b@x.test", "--password-stdin", check=False,
                  input="Body-Only-Secret\n")
        assert len(fake.requests) == 2, fake.requests
        assert fake.requests[0].startswith(b"GET /v1/users/a%2Bb@x.test HTTP/1.1\r\n")
        assert fake.requests[1].startswith(b"POST /v1/users HTTP/1.1\r\n")
        assert b"Body-Only-Secret" not in fake.requests[1].split(b"\r\n\r\n")[0]
        assert p.returncode == 1
    finally:
        fake.close()
