"""The process-table sampler the local bring-up test relies on (tests/lib/process_sampler.py):
it must see a short-lived process's command line and environment, or its clean bill means nothing."""

import os
import secrets
import subprocess
import sys
import time

from lib.process_sampler import ProcessSampler


def _short_process(argv_secret="", env_secret=""):
    env = dict(os.environ, EDP_TEST_TOKEN=env_secret) if env_secret else dict(os.environ)
    return subprocess.run([sys.executable, "-c", "import time; time.sleep(0.5)", argv_secret],
                          env=env, check=True)


def test_a_secret_on_a_short_command_line_is_found_and_not_shown():
    secret = "argv-" + secrets.token_urlsafe(16)
    with ProcessSampler(interval=0.05) as sampler:
        _short_process(argv_secret=secret)
        time.sleep(0.1)
    found = sampler.findings({"the-secret": secret})
    assert len(found) == 1 and found[0].startswith("the-secret in the command line of pid "), found
    assert secret not in found[0], "a finding shows the secret"


def test_a_secret_in_an_environment_is_found_unless_its_owner_runs_the_process():
    secret = "env-" + secrets.token_urlsafe(16)
    with ProcessSampler(interval=0.05) as sampler:
        _short_process(env_secret=secret)
        time.sleep(0.1)
    found = sampler.findings({"the-secret": secret})
    assert len(found) == 1 and found[0].startswith("the-secret in the environment of pid "), found
    assert sampler.findings({"the-secret": secret}, env_allowed_uids={"the-secret": {os.getuid()}}) == []


def test_nothing_is_found_when_no_process_holds_the_secret():
    with ProcessSampler(interval=0.05) as sampler:
        _short_process(argv_secret="harmless", env_secret="harmless")
    assert sampler.passes > 3, sampler.summary()
    assert sampler.findings({"never-used": "nv-" + secrets.token_urlsafe(16)}) == []
