"""The Ansible deployment: the playbook parses, the templates it writes
are accepted by the programs that read them, and HAProxy configured by it
sends clients only to nodes whose /health answers 200."""
import json
import os
import shutil
import signal
import smtplib
import subprocess
import time

import pytest

import harness

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
ANSIBLE = os.path.join(ROOT, "ansible")
RENDER = os.path.join(ROOT, "tests", "data", "ansible", "render.yml")

pytestmark = pytest.mark.skipif(shutil.which("ansible-playbook") is None or
                                shutil.which("haproxy") is None,
                                reason="ansible-core and haproxy are installed by tools/deps.sh")


def render(inventory, out):
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
               ANSIBLE_ROLES_PATH=os.path.join(ANSIBLE, "roles"),
               MAILNODE_BIN=os.path.abspath(harness.BIN))
    p = subprocess.run(["ansible-playbook", "-i", inventory, RENDER,
                        "-e", "render_dir=%s" % out],
                       capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, p.stdout + p.stderr


def test_playbook_syntax():
    p = subprocess.run(["ansible-playbook", "--syntax-check", "-i",
                        os.path.join(ANSIBLE, "inventory.example.ini"),
                        os.path.join(ANSIBLE, "site.yml")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr


def test_example_inventory_renders_valid_configs(tmp_path):
    render(os.path.join(ANSIBLE, "inventory.example.ini"), str(tmp_path))
    for host in ("mail1", "mail2", "mail3"):
        conf = str(tmp_path / ("%s.conf" % host))
        p = harness.run_cli(["--config", conf, "check-config"])
        assert "configuration OK" in p.stdout
        text = open(conf).read()
        assert "cluster = 10.0.0.1" in text and "advertise" in text
    p = subprocess.run(["haproxy", "-c", "-f", str(tmp_path / "haproxy.cfg")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr


def deliver(port, user, subject):
    with smtplib.LMTP("127.0.0.1", port, timeout=10) as c:
        c.sendmail("lb@deploy.test", [user],
                   "Subject: %s\r\nFrom: lb@deploy.test\r\n\r\nvia haproxy\r\n" % subject)


def test_haproxy_follows_health(cluster, tmp_path):
    inv = tmp_path / "inventory.json"
    ports = {k: harness.free_port() for k in ("imap", "imaps", "pop3", "pop3s",
                                               "managesieve", "lmtp")}
    hosts = {}
    for n in cluster.nodes:
        hosts["mail%d" % n.node_id] = {
            "ansible_host": "127.0.0.1", "mailnode_id": n.node_id,
            "mailnode_listen": {k: n.addr(k) for k in harness.LISTENERS}}
    inventory = {
        "mailnode": {"hosts": hosts},
        "loadbalancer": {"hosts": {"lb1": {"ansible_host": "127.0.0.1"}},
                         "vars": {"haproxy_bind_address": "127.0.0.1",
                                  "haproxy_check_interval": "300ms",
                                  "haproxy_maxconn": 2000,
                                  "haproxy_ports": ports}},
    }
    inv.write_text(json.dumps(inventory))
    render(str(inv), str(tmp_path))
    cfg = str(tmp_path / "haproxy.cfg")
    hap_log = open(str(tmp_path / "haproxy.log"), "w")
    hap = subprocess.Popen(["haproxy", "-db", "-f", cfg], stdout=hap_log, stderr=hap_log)
    try:
        user = "lb@deploy.test"
        cluster.leader().add_user(user, "pw")
        time.sleep(1.5)  # first health checks
        for i in range(10):
            deliver(ports["lmtp"], user, "before %d" % i)
        # A dead node is taken out of rotation after two failed checks.
        victim = cluster.nodes[1]
        victim.kill(signal.SIGKILL)
        time.sleep(1.5)
        for i in range(20):
            deliver(ports["lmtp"], user, "after %d" % i)
        code, body = cluster.nodes[0].admin("GET", "/v1/users/" + user)
        assert body["used_messages"] == 30
        victim.start()
    finally:
        hap.send_signal(signal.SIGTERM)
        hap.wait(10)
