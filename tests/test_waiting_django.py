"""A Django project tested with pytest-django whose view runs one ORM query per row: the view is
found with n-plus-one-query and the statement's shape (docs/design.md "The passes", CPU,
Statements). Django and pytest-django come from PyPI once, into a venv cached like the probe's
Python venvs ($PERFSCAN_TEST_CACHE); without them the test is skipped."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import assert_unchanged, load_report, run_perfscan, tree_state, write_project
from test_probe_pythons import CACHE

pytestmark = pytest.mark.slow

VIEWS = (
    "from django.http import JsonResponse\n\n"
    "from shop.models import Item\n\n\n"
    "def price_list(request):\n"
    "    rows = []\n"
    "    for item in Item.objects.order_by('id'):\n"
    "        rows.append({'name': item.name, 'price': item.price.amount})\n"
    "    return JsonResponse({'rows': rows})\n\n\n"
    "def price_list_joined(request):\n"
    "    rows = [{'name': i.name, 'price': i.price.amount} for i in Item.objects.select_related('price')]\n"
    "    return JsonResponse({'rows': rows})\n"
)
PROJECT = {
    "pyproject.toml": (
        "[project]\nname = 'shopsite'\nversion = '1'\n"
        "[tool.pytest.ini_options]\nDJANGO_SETTINGS_MODULE = 'shopsite.settings'\ntestpaths = ['tests']\n"
    ),
    "shopsite/__init__.py": "",
    "shopsite/settings.py": (
        "SECRET_KEY = 'test'\nDEBUG = False\nALLOWED_HOSTS = ['*']\nROOT_URLCONF = 'shopsite.urls'\n"
        "INSTALLED_APPS = ['django.contrib.contenttypes', 'shop']\n"
        "DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': ':memory:'}}\n"
        "USE_TZ = True\nDEFAULT_AUTO_FIELD = 'django.db.models.AutoField'\n"
    ),
    "shopsite/urls.py": (
        "from django.urls import path\n\nfrom shop import views\n\n"
        "urlpatterns = [path('prices', views.price_list), path('prices-joined', views.price_list_joined)]\n"
    ),
    "shop/__init__.py": "",
    "shop/apps.py": "from django.apps import AppConfig\n\n\nclass ShopConfig(AppConfig):\n    name = 'shop'\n",
    "shop/models.py": (
        "from django.db import models\n\n\n"
        "class Item(models.Model):\n    name = models.CharField(max_length=40)\n\n\n"
        "class Price(models.Model):\n"
        "    item = models.OneToOneField(Item, on_delete=models.CASCADE, related_name='price')\n"
        "    amount = models.FloatField()\n"
    ),
    "shop/migrations/__init__.py": "",
    "shop/migrations/0001_initial.py": (
        "from django.db import migrations, models\n\n\n"
        "class Migration(migrations.Migration):\n"
        "    initial = True\n    dependencies = []\n"
        "    operations = [\n"
        "        migrations.CreateModel('Item', [('id', models.AutoField(primary_key=True)), "
        "('name', models.CharField(max_length=40))]),\n"
        "        migrations.CreateModel('Price', [('id', models.AutoField(primary_key=True)), "
        "('item', models.OneToOneField(on_delete=models.CASCADE, related_name='price', to='shop.item')), "
        "('amount', models.FloatField())]),\n"
        "    ]\n"
    ),
    "shop/views.py": VIEWS,
    "tests/test_views.py": (
        "import pytest\n\nfrom shop.models import Item, Price\n\n\n"
        "@pytest.fixture\n"
        "def catalog(db):\n"
        "    items = Item.objects.bulk_create([Item(name='item%d' % i) for i in range(400)])\n"
        "    Price.objects.bulk_create([Price(item=i, amount=i.id * 1.5) for i in items])\n\n\n"
        "def test_prices(client, catalog):\n"
        "    for _ in range(3):\n"
        "        assert len(client.get('/prices').json()['rows']) == 400\n\n\n"
        "def test_prices_joined(client, catalog):\n"
        "    assert len(client.get('/prices-joined').json()['rows']) == 400\n"
    ),
}


def django_python():
    venv = CACHE / "venv-django"
    python = venv / "bin" / "python"
    marker = venv / ".perfscan-ready"
    if not marker.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300, capture_output=True)
        proc = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "django", "pytest-django"],
            timeout=900,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            pytest.skip(f"cannot install Django and pytest-django: {proc.stderr.strip()[-200:]}")
        marker.write_text("ok")
    return python


def test_a_django_view_with_a_query_per_row_is_n_plus_one_query_with_its_statement(tmp_path):
    python = django_python()
    root = write_project(tmp_path / "shopsite", PROJECT)
    before = tree_state(root)
    proc = run_perfscan(str(root), "--runner", str(python), "--passes", "cpu")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert_unchanged(before, root)
    report = load_report(root)
    view = [f for f in report["findings"] if f["symbol"] == "price_list"]
    assert view, [(f["symbol"], f["pattern"]) for f in report["findings"]]
    f = view[0]
    assert f["pattern"] == "n-plus-one-query" and f["file"] == "shop/views.py", f
    line = VIEWS.splitlines().index("        rows.append({'name': item.name, 'price': item.price.amount})") + 1
    loop = VIEWS.splitlines().index("    for item in Item.objects.order_by('id'):") + 1
    assert f["line"] == line
    shape = 'SELECT ... FROM "shop_price" WHERE "shop_price"."item_id" = ? LIMIT ?'
    assert f"1,200 x `{shape}` from line {line} inside the loop at line {loop}" in f["evidence"], f["evidence"]
    # the view that joins runs one query: no N+1 there
    assert all(g["pattern"] != "n-plus-one-query" for g in report["findings"] if g["symbol"] == "price_list_joined")
