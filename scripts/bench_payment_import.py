"""Benchmark: importing a monthly payment file into the ledger (a script that prints figures).

    VETS_DATABASE__URL=postgres://postgres@127.0.0.1:5432/bench python scripts/bench_payment_import.py [--people 3000]

Seeds N people in one county, writes the payment system's CSV for one month (one row per person),
imports it, then imports the same file again (every row ``already_recorded``), and prints the rows
per second of each run. Without VETS_DATABASE__URL it uses SQLite in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import os
import sys
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.org import OrgKind, OrgUnit  # noqa: E402
from models.registry import Beneficiary, Category  # noqa: E402
from models.staff import Role  # noqa: E402
from server import db  # noqa: E402
from server.actors import SYSTEM  # noqa: E402
from server.auth.scope import Scope  # noqa: E402
from server.config import Settings  # noqa: E402
from server.payments.ledger import import_payment_file  # noqa: E402
from server.registry.id_numbers import make_id_number  # noqa: E402
from server.security.fields import cipher, configure_cipher  # noqa: E402


async def main(people: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("VETS_DATABASE__URL") or f"sqlite://{tmp}/bench.sqlite3"
        settings = Settings(database={"url": url, "pool_max_size": 10})
        configure_cipher(settings.security.field_key.get_secret_value())
        if url.startswith("postgres"):
            await db.reset_postgres_schema(url)
        await db.apply_migrations(url)
        await db.init_orm(url, pool_max_size=10)
        try:
            city = await OrgUnit.create(name="市", code="C", kind=OrgKind.CITY)
            district = await OrgUnit.create(name="县", code="D", kind=OrgKind.DISTRICT, parent=city)
            station = await OrgUnit.create(name="站", code="S", kind=OrgKind.STATION, parent=district)
            numbers = [make_id_number("320723", date(1940, 1, 1) + timedelta(days=i), i % 500, male=True) for i in range(people)]
            await Beneficiary.bulk_create(
                [Beneficiary(name=f"对象{i}", id_number_encrypted=cipher().encrypt(n), id_number_hash=cipher().lookup_hash(n), id_number_masked=n[:6] + "*" * 8 + n[-4:], birth_date=date(1940, 1, 1), sex="male", category=Category.WAR_VETERAN, station=station, monthly_amount=Decimal("900.00")) for i, n in enumerate(numbers)],
                batch_size=1000,
            )
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(["身份证号码", "姓名", "发放月份", "发放金额"])
            writer.writerows([n, f"对象{i}", "2026-10", "900.00"] for i, n in enumerate(numbers))
            data = buffer.getvalue().encode()
            scope = Scope(role=Role.BUREAU, org_unit_id=district.id, org_kind=OrgKind.DISTRICT)
            for label in ("first import", "same file again"):
                started = time.perf_counter()
                report = await import_payment_file(scope=scope, actor=SYSTEM, filename="pay.csv", data=data)
                seconds = time.perf_counter() - started
                print(f"{label}: {people} rows in {seconds:.2f} s = {people / seconds:.0f} rows/s (recorded {report['recorded']}, already {report['already_recorded']})")
        finally:
            await db.close_orm()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=3000)
    args = parser.parse_args()
    asyncio.run(main(args.people))
