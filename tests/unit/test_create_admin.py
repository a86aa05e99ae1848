"""The airflow role's first-admin script (roles/airflow/templates/create-admin.py.j2): the password
comes from standard input or a file, never from its arguments. Against a real Airflow it runs in
tests/lib/airflow_server.py (every Airflow test's admin) and in the local bring-up."""

import importlib.machinery
import importlib.util
import io
import pathlib

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "roles" / "airflow" / "templates" / "create-admin.py.j2"


@pytest.fixture(scope="module")
def create_admin():
    loader = importlib.machinery.SourceFileLoader("edp_create_admin", str(SCRIPT))
    spec = importlib.util.spec_from_loader("edp_create_admin", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_the_script_has_no_jinja_in_it():
    # The admin Job includes it with Jinja and the local target templates it: it must come out as it is.
    text = SCRIPT.read_text()
    assert "{{" not in text and "{%" not in text and "{#" not in text


def test_the_password_is_the_first_line_of_a_file_or_of_stdin(create_admin, tmp_path, monkeypatch):
    path = tmp_path / "password"
    path.write_text("s3cret with spaces\nignored\n")
    assert create_admin.read_password(str(path)) == "s3cret with spaces"
    path.write_text("no-newline")  # as the roles write it
    assert create_admin.read_password(str(path)) == "no-newline"
    monkeypatch.setattr("sys.stdin", io.StringIO("from-stdin\r\n"))
    assert create_admin.read_password("-") == "from-stdin"


def test_a_password_given_as_an_argument_is_refused_and_not_echoed(create_admin, capsys):
    with pytest.raises(SystemExit, match="never as an argument") as stopped:
        create_admin.main(["--username", "a", "--email", "a@example.com", "--password", "pw-in-argv"])
    assert "pw-in-argv" not in str(stopped.value) + "".join(capsys.readouterr())


def test_an_empty_password_stops_before_airflow_is_touched(create_admin, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with pytest.raises(SystemExit, match="no password in standard input"):
        create_admin.main(["--username", "a", "--email", "a@example.com"])
