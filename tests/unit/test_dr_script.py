"""dr_script's failure message: the script's own error line, one line, with a tool's message
where the script points to it."""

from ansible_collections.edp.platform.plugins.modules import dr_script


def test_the_scripts_last_error_line_is_the_message():
    stderr = ("2026-12-02T12:00:00Z edp-backup: taking a dump\n"
              "2026-12-02T12:00:01Z edp-backup: error: no dump of airflow with a manifest in /b/dumps: "
              "take one with playbooks/backup.yml\n")
    assert dr_script.failure_message("newest", stderr, 1) == (
        "edp-backup.sh newest failed: no dump of airflow with a manifest in /b/dumps: "
        "take one with playbooks/backup.yml")


def test_a_tools_message_replaces_the_pointer_to_it():
    stderr = ('pg_dump: error: connection to server at "127.0.0.1", port 1 failed: Connection refused\n'
              "2026-12-02T12:00:01Z edp-backup: error: pg_dump of airflow failed (its message is above)\n")
    assert dr_script.failure_message("dump", stderr, 1) == (
        'edp-backup.sh dump failed: pg_dump of airflow failed (pg_dump: error: connection to server at '
        '"127.0.0.1", port 1 failed: Connection refused)')


def test_without_an_error_line_the_last_line_or_the_status_is_said():
    assert dr_script.failure_message("dump", "bash: /x: No such file or directory\n", 127) == (
        "edp-backup.sh dump failed: bash: /x: No such file or directory")
    assert dr_script.failure_message("dump", "", 3) == "edp-backup.sh dump failed: exit status 3 and no message"


def test_only_a_json_last_line_is_a_result():
    assert dr_script.last_json(['{"archive": "/b/a.dump"}']) == {"archive": "/b/a.dump"}
    assert dr_script.last_json(["done"]) is None and dr_script.last_json([]) is None
