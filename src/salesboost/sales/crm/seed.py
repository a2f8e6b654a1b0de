"""Loads the demo customers (`SALESBOOST_CUSTOMERS_FILE`, YAML) into the database; part of `salesboost db seed`.

Idempotent: a customer whose id already exists is left as it is (someone may have edited it since).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy import select, text

from salesboost.sales.crm.customers import CustomerFields, customer_number
from salesboost.sales.crm.rows import new_customer
from salesboost.store.customers import Customer
from salesboost.store.db import writing
from salesboost.tools.base import ToolBackends
from salesboost.tools.errors import ToolInputError
from salesboost.yamlfiles import load_yaml


class CustomerFileError(ValueError):
    """The demo file is malformed; the message names the record and the field."""


def read_customer_file(path: Path, default_region: str) -> list[tuple[int, CustomerFields]]:
    """The records of the file as (number, validated fields), phones in E.164."""
    try:
        raw: Any = load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CustomerFileError(f"cannot read {path}: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("customers"), list):
        raise CustomerFileError(f"{path}: needs a top-level 'customers' list")
    records: list[tuple[int, CustomerFields]] = []
    for index, item in enumerate(raw["customers"]):
        where = f"{path.name}: customers[{index}]"
        if not isinstance(item, dict) or "id" not in item:
            raise CustomerFileError(f"{where}: needs an id")
        body = {k: v for k, v in item.items() if k != "id"}
        try:
            number = customer_number(str(item["id"]))
            fields = CustomerFields.model_validate(body).with_e164_phone(default_region, "phone")
        except (ValueError, ToolInputError) as exc:
            detail = exc.errors(include_url=False) if isinstance(exc, ValidationError) else str(exc)
            raise CustomerFileError(f"{where} ({item['id']}): {detail}") from None
        records.append((number, fields))
    return records


async def seed_customers(backends: ToolBackends) -> str:
    settings = backends.settings
    path = settings.customers_file
    records = read_customer_file(path, settings.phone_default_region)
    now = backends.clock()
    async with writing(backends.sessions()) as session:
        numbers = [number for number, _ in records]
        existing = set((await session.scalars(select(Customer.number).where(Customer.number.in_(numbers)))).all())
        added = [new_customer(fields, now, number) for number, fields in records if number not in existing]
        session.add_all(added)
        await session.flush()
        if session.get_bind().dialect.name == "postgresql":
            # Explicit ids do not move the identity sequence; without this the next create would collide.
            await session.execute(text(
                "SELECT setval(pg_get_serial_sequence('customers', 'number'), "
                "GREATEST((SELECT max(number) FROM customers), 1))"
            ))
    return f"customers: {len(added)} added, {len(existing)} already present ({path.name})"
