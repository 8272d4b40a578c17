"""Value types shared by several contracts. Amounts are integers in minor units (cents)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
MinorUnits = Annotated[int, Field(ge=0)]
Sku = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class Customer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+$", max_length=320)]
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]


class LineItem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    sku: Sku
    quantity: Annotated[int, Field(gt=0)]
    unit_amount: MinorUnits
