"""supervisord_answers: whether a running supervisord answered `supervisorctl status NAME`."""

from ansible_collections.edp.platform.plugins.filter.supervisor import supervisord_answers


def test_running_stopped_and_unknown_programs_are_answers():
    assert supervisord_answers({"rc": 0, "stdout": "pgbouncer RUNNING pid 12, uptime 0:01:00"})
    assert supervisord_answers({"rc": 3, "stdout": "pgbouncer STOPPED"})
    assert supervisord_answers({"rc": 4, "stdout": "pgbouncer: ERROR (no such process)"})


def test_a_missing_or_refusing_supervisord_is_no_answer():
    assert not supervisord_answers({"rc": 4, "stdout": "unix:///x/run/airflow/supervisor.sock no such file"})
    assert not supervisord_answers({"rc": 7, "stdout": "unix:///x/supervisor.sock refused connection"})
    assert not supervisord_answers({"rc": 2, "stdout": "Error: could not find config file"})
    assert not supervisord_answers(None)
