"""SQL repositories. Stock moves are single conditional UPDATEs, so concurrent reservations can never take
more than is available: the database checks ``available >= quantity`` and changes the row in one step, under
its row lock (PostgreSQL) or write lock (SQLite)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Update, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from inventory.adapters.tables import reservations, stock
from inventory.domain.model import Line, Reservation, ReservationStatus, StockLevel, Taken
from shared.messaging.errors import TransientError
from shared.persistence.compiled import DriverStatement
from shared.persistence.repository import TrackingRepository


class ConcurrentReservationUpdate(TransientError):
    """Another transaction changed the reservation since it was read; the handler runs again."""


# Statements built once: only the parameters change, so SQLAlchemy's compiled cache serves every call.
def _move_statement(*, check_available: bool, check_reserved: bool) -> Update:
    statement = (
        update(stock)
        .where(stock.c.sku == bindparam("b_sku"))
        .values(
            available=stock.c.available + bindparam("d_available"),
            reserved=stock.c.reserved + bindparam("d_reserved"),
            sold=stock.c.sold + bindparam("d_sold"),
        )
        .returning(stock.c.available)
    )
    if check_available:  # taking from available: never below zero
        statement = statement.where(stock.c.available >= bindparam("need_available"))
    if check_reserved:
        statement = statement.where(stock.c.reserved >= bindparam("need_reserved"))
    return statement


# (takes from available, takes from reserved) -> statement. Every step of a checkout moves stock and reads and
# writes its reservation: those statements run on the driver (DriverStatement, a fraction of the CPU).
_MOVE = {
    (a, r): DriverStatement(_move_statement(check_available=a, check_reserved=r))
    for a in (False, True)
    for r in (False, True)
}


def _stock_upsert(insert_: Any) -> Any:
    statement = insert_(stock)
    return statement.on_conflict_do_update(
        index_elements=[stock.c.sku], set_={"available": statement.excluded.available}
    ).returning(stock.c.sku, stock.c.available, stock.c.reserved, stock.c.sold)


_SET_AVAILABLE = {"postgresql": _stock_upsert(pg_insert), "sqlite": _stock_upsert(sqlite_insert)}
_STOCK_BY_SKU = select(stock.c.sku, stock.c.available, stock.c.reserved, stock.c.sold).where(
    stock.c.sku == bindparam("sku")
)
_RESERVATION_FOR_UPDATE = DriverStatement(
    select(reservations).where(reservations.c.payment_id == bindparam("payment_id")).with_for_update()
)
_EXPIRED = (
    select(reservations.c.payment_id)
    .where(
        reservations.c.status == ReservationStatus.RESERVED.value,
        reservations.c.expires_at <= bindparam("now"),
    )
    .order_by(reservations.c.expires_at)
    .limit(bindparam("limit"))
)
_INSERT_RESERVATION = DriverStatement(insert(reservations))
# Version check: the status must still be the one read.
_UPDATE_RESERVATION = DriverStatement(
    update(reservations)
    .where(
        reservations.c.payment_id == bindparam("b_payment_id"), reservations.c.status == bindparam("b_status")
    )
    .values({column.name: bindparam(column.name) for column in reservations.c if column.name != "payment_id"})
)


class SqlStockRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def _move(self, sku: str, *, available: int = 0, reserved: int = 0, sold: int = 0) -> int | None:
        """Apply the deltas if no count would go negative; the new available count, or None if refused."""
        params = {"b_sku": sku, "d_available": available, "d_reserved": reserved, "d_sold": sold}
        if available < 0:
            params["need_available"] = -available
        if reserved < 0:
            params["need_reserved"] = -reserved
        rows = await _MOVE[available < 0, reserved < 0].rows(self._connection, params)
        return int(rows[0]["available"]) if rows else None

    async def take(self, lines: tuple[Line, ...]) -> Taken:
        after: dict[str, int] = {}
        short: list[str] = []
        for line in lines:  # sorted by SKU: a fixed lock order, no deadlocks between baskets
            available = await self._move(line.sku, available=-line.quantity, reserved=line.quantity)
            if available is None:
                short.append(line.sku)  # keep going, to name every short SKU
            else:
                after[line.sku] = available
        if not short:
            return Taken(after)
        # All or none: give back what this basket took. The rows stay locked by this transaction, so no
        # other reservation ever saw the partial take.
        for line in lines:
            if line.sku in after:
                await self._move(line.sku, available=line.quantity, reserved=-line.quantity)
        return Taken({}, tuple(short))

    async def settle(self, lines: tuple[Line, ...]) -> None:
        for line in lines:
            if await self._move(line.sku, reserved=-line.quantity, sold=line.quantity) is None:
                raise RuntimeError(f"reserved count of {line.sku} is below {line.quantity}")

    async def give_back(self, lines: tuple[Line, ...]) -> None:
        for line in lines:
            if await self._move(line.sku, available=line.quantity, reserved=-line.quantity) is None:
                raise RuntimeError(f"reserved count of {line.sku} is below {line.quantity}")

    async def sell_from_available(self, lines: tuple[Line, ...]) -> bool:
        done: list[Line] = []
        for line in lines:
            if await self._move(line.sku, available=-line.quantity, sold=line.quantity) is None:
                for taken in done:
                    await self._move(taken.sku, available=taken.quantity, sold=-taken.quantity)
                return False
            done.append(line)
        return True

    async def set_available(self, sku: str, available: int) -> StockLevel:
        row = (
            await self._connection.execute(
                _SET_AVAILABLE[self._connection.dialect.name],
                {"sku": sku, "available": available, "reserved": 0, "sold": 0},
            )
        ).one()
        return StockLevel(row.sku, row.available, row.reserved, row.sold)

    async def get(self, sku: str) -> StockLevel | None:
        row = (await self._connection.execute(_STOCK_BY_SKU, {"sku": sku})).first()
        return None if row is None else StockLevel(row.sku, row.available, row.reserved, row.sold)


class SqlReservationRepository(TrackingRepository[Reservation]):
    """Tracks what it hands out (the unit of work collects their events); ``flush`` writes them, checking
    that nobody changed a reservation's status since it was read."""

    def __init__(self, connection: AsyncConnection) -> None:
        super().__init__(connection)
        self._loaded: dict[str, dict[str, Any] | None] = {}  # the row as read (None: new)

    async def get(self, payment_id: str) -> Reservation | None:
        if payment_id in self.seen:
            return self.seen[payment_id]
        rows = await _RESERVATION_FOR_UPDATE.rows(self.connection, {"payment_id": payment_id})
        if not rows:
            return None
        row = rows[0]
        reservation = Reservation(
            payment_id=row["payment_id"],
            reservation_id=row["reservation_id"],
            status=ReservationStatus(row["status"]),
            lines=tuple(Line(sku, quantity) for sku, quantity in row["lines"]),
            created_at=row["created_at"],
            expires_at=row["expires_at"],
            reason=row["reason"],
        )
        self._loaded[payment_id] = _row(reservation)
        return self.track(reservation)

    def add(self, reservation: Reservation) -> None:
        self._loaded[reservation.payment_id] = None
        self.track(reservation)

    async def expired(self, now: datetime, limit: int) -> list[str]:
        rows = await self.connection.execute(_EXPIRED, {"now": now, "limit": limit})
        return [row.payment_id for row in rows]

    async def flush(self) -> None:
        """Insert new reservations and write changed ones (optimistic check on the status read)."""
        for payment_id, reservation in self.seen.items():
            loaded, row = self._loaded[payment_id], _row(reservation)
            if loaded is None:
                await _INSERT_RESERVATION.rowcount(self.connection, row)
            elif row != loaded:
                params = {**row, "b_payment_id": payment_id, "b_status": loaded["status"]}
                del params["payment_id"]
                if await _UPDATE_RESERVATION.rowcount(self.connection, params) != 1:
                    raise ConcurrentReservationUpdate(
                        f"reservation of {payment_id} changed under this transaction"
                    )
            self._loaded[payment_id] = row


def _row(reservation: Reservation) -> dict[str, Any]:
    return {
        "payment_id": reservation.payment_id,
        "reservation_id": reservation.reservation_id,
        "status": reservation.status.value,
        "lines": [[line.sku, line.quantity] for line in reservation.lines],
        "created_at": reservation.created_at,
        "expires_at": reservation.expires_at,
        "reason": reservation.reason,
    }
