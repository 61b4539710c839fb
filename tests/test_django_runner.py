"""A Django project (models, views, sqlite) whose tests run with `manage.py test`, no pytest-django:
perfscan runs Django's own test runner under the probe and finds the view's planted hotspot.

The scan's runner is perfscan's own python, which has Django (the `test` extra) and pytest but
not pytest-django: the environment in which pytest could not set Django up, so the zero-config
choice must be Django's runner.
"""

from __future__ import annotations

import importlib.util
import sys

import pytest
from conftest import assert_unchanged, load_report, run_perfscan, tree_state, write_project

pytest.importorskip("django", reason="Django is in the test extra: pip install -e '.[test]'")
if importlib.util.find_spec("pytest_django") is not None:  # pragma: no cover - a developer's own venv
    pytest.skip("pytest-django is installed here: perfscan would rightly choose pytest", allow_module_level=True)

SHOP = {
    "manage.py": (
        "#!/usr/bin/env python\nimport os\nimport sys\n\n\ndef main():\n"
        '    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")\n'
        "    from django.core.management import execute_from_command_line\n\n"
        "    execute_from_command_line(sys.argv)\n\n\n"
        'if __name__ == "__main__":\n    main()\n'
    ),
    "shop/__init__.py": "",
    "shop/settings.py": (
        "from pathlib import Path\n\n"
        "BASE_DIR = Path(__file__).resolve().parent.parent\n"
        'SECRET_KEY = "tests-only"\nDEBUG = False\nALLOWED_HOSTS = ["testserver"]\n'
        'INSTALLED_APPS = ["django.contrib.contenttypes", "orders"]\nMIDDLEWARE = []\nROOT_URLCONF = "shop.urls"\n'
        'DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}\n'
        'USE_TZ = True\nDEFAULT_AUTO_FIELD = "django.db.models.AutoField"\n'
    ),
    "shop/urls.py": (
        'from django.urls import path\n\nfrom orders import views\n\nurlpatterns = [path("customers/", views.customers)]\n'
    ),
    "orders/__init__.py": "",
    "orders/models.py": (
        "from django.db import models\n\n\nclass Order(models.Model):\n"
        "    customer = models.CharField(max_length=50)\n    total = models.IntegerField()\n"
    ),
    "orders/migrations/__init__.py": "",
    "orders/migrations/0001_initial.py": (
        "from django.db import migrations, models\n\n\nclass Migration(migrations.Migration):\n"
        "    initial = True\n    dependencies = []\n    operations = [\n"
        '        migrations.CreateModel(name="Order", fields=[\n'
        '            ("id", models.AutoField(auto_created=True, primary_key=True, serialize=False)),\n'
        '            ("customer", models.CharField(max_length=50)),\n'
        '            ("total", models.IntegerField()),\n'
        "        ]),\n    ]\n"
    ),
    "orders/views.py": (
        "from django.http import JsonResponse\n\nfrom orders.models import Order\n\n\n"
        "def distinct_customers(names):\n"
        "    seen = []\n"
        "    for name in names:\n"
        "        if name not in seen:\n"
        "            seen.append(name)\n"
        "    return seen\n\n\n"
        "def customers(request):\n"
        '    names = list(Order.objects.values_list("customer", flat=True)) * 40\n'
        '    return JsonResponse({"customers": distinct_customers(names)})\n'
    ),
    "orders/tests.py": (
        "from django.test import TestCase\n\nfrom orders.models import Order\n\n\n"
        "class CustomersViewTests(TestCase):\n"
        "    @classmethod\n    def setUpTestData(cls):\n"
        '        Order.objects.bulk_create(Order(customer="c%d" % (i % 2000), total=i) for i in range(4000))\n\n'
        "    def test_customers(self):\n"
        '        response = self.client.get("/customers/")\n'
        "        self.assertEqual(response.status_code, 200)\n"
        '        self.assertEqual(len(response.json()["customers"]), 2000)\n\n'
        "    def test_count(self):\n        self.assertEqual(Order.objects.count(), 4000)\n"
    ),
}


@pytest.mark.slow
def test_django_project_runs_under_manage_py_test_and_its_view_hotspot_is_found(tmp_path):
    root = write_project(tmp_path / "shop", SHOP)
    before = tree_state(root)
    proc = run_perfscan(str(root), "--runner", sys.executable, "--passes", "cpu,memory,async", "--budget", "150")
    assert proc.returncode == 0, proc.stderr
    report = load_report(root)
    runner = report["target"]["test_runner"]
    assert runner["name"] == "django" and runner["django_settings"] == "shop.settings", runner
    assert "without pytest-django" in runner["why"]
    assert report["target"]["mode"] == "all"
    assert sorted(report["target"]["tests"]) == [
        "orders/tests.py::CustomersViewTests::test_count",
        "orders/tests.py::CustomersViewTests::test_customers",
    ]
    cpu = [f for f in report["findings"] if f["domain"] == "cpu"]
    assert cpu and cpu[0]["qualname"] == "orders.views:distinct_customers", cpu
    # its test databases exist before the loop: pooled runs are never forked from it
    assert not any("forked" in n for n in report["passes"]["cpu"]["notes"]), report["passes"]["cpu"]["notes"]
    # nor does the memory pass run beside the timing run: a database server's test database would be both runs'
    assert "started beside the timing run" not in proc.stderr
    assert (cpu[0]["pattern"], cpu[0]["severity"], cpu[0]["phase"]) == ("quadratic-membership", "critical", "call")
    md = (root / ".codeflash" / "scan-report.md").read_text()
    assert "- Test runner: django (manage.py, and Django without pytest-django" in md
    # the test database is Django's in-memory sqlite: no db.sqlite3, nothing else, appears in the project
    assert not (root / "db.sqlite3").exists()
    assert_unchanged(before, root)


@pytest.mark.slow
def test_setup_md_test_command_names_django_labels(tmp_path):
    files = dict(
        SHOP,
        **{
            ".codeflash/setup.md": "- Test command: `python manage.py test orders.tests.CustomersViewTests.test_count`\n"
        },
    )
    root = write_project(tmp_path / "shop", files)
    before = tree_state(root)
    proc = run_perfscan(str(root), "--runner", sys.executable, "--passes", "cpu", "--budget", "120")
    assert proc.returncode == 0, proc.stderr
    report = load_report(root)
    assert report["target"]["test_runner"]["why"].startswith("asked for by .codeflash/setup.md (test command)")
    assert report["target"]["tests"] == ["orders/tests.py::CustomersViewTests::test_count"]
    assert_unchanged(before, root)
