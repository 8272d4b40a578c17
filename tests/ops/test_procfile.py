from pathlib import Path

from warrenctl.procfile import Process, read_procfile

ROOT = Path(__file__).resolve().parents[2]


def test_procfile_lists_every_process_of_the_suite_when_read() -> None:
    names = [p.name for p in read_procfile(ROOT / "Procfile")]
    assert names == ["gateway", "mailsink", "payment", "fraud", "inventory", "notification", "worker", "beat"]


def test_every_procfile_process_is_installed_when_the_repository_is() -> None:
    missing = [p.name for p in read_procfile(ROOT / "Procfile") if not p.installed()]
    assert missing == []


def test_module_is_found_for_python_and_celery_commands() -> None:
    assert Process("payment", "python -m payment serve").module == "payment"
    assert Process("worker", "celery -A notification.entrypoints.celery_app worker").module == "notification"
    assert not Process("ghost", "python -m no_such_service serve").installed()
