"""A repository's hot SQLAlchemy Core statement, compiled once per dialect and run on the database driver.

A unit of work runs a few statements per message, and SQLAlchemy's per-execution work (execution context, events,
result set-up, a greenlet hand-off per driver call) costs more than the statement itself: on this project's
2-core machine 66 us of CPU for a primary-key SELECT on SQLite against 9 us on the driver. A
:class:`DriverStatement` keeps the statement written in SQLAlchemy (tables, columns, types, dialect differences
such as ``FOR UPDATE``) and does only what the statement needs at run time: the bind processors of its
parameters, the driver call inside the connection's transaction (begun first, as
:func:`shared.persistence.driver.fetch_rows` does), and the result processors of its columns. Values come back
as SQLAlchemy would return them (``UTCDateTime`` aware, JSON decoded), and errors as it would raise them.

For SELECT, INSERT, UPDATE and DELETE statements with named bind parameters. An INSERT is compiled with every
column of its table and takes a value for each: column defaults are SQLAlchemy's to fill, so a missing value is
an error here, never a silent NULL. Expanding (``IN``) parameters are refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Delete, Insert, Select, Update
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.persistence.driver import driver_in_transaction, pooled_connection

_Processor = Callable[[Any], Any] | None
Statement = Select[Any] | Insert | Update | Delete


class _Compiled:
    """One statement as one dialect runs it: SQL text, parameter order and conversions."""

    def __init__(self, statement: Statement, dialect: Dialect) -> None:
        compiled: Any = statement.compile(dialect=dialect)
        if compiled.literal_execute_params or compiled.post_compile_params:
            raise ValueError(f"expanding parameters are not supported: {statement}")
        self.sql: str = compiled.string
        names: Sequence[str] = compiled.positiontup or ()
        binds: Mapping[str, _Processor] = compiled._bind_processors
        self.params: list[tuple[str, _Processor]] = [(name, binds.get(name)) for name in names]
        self.columns: list[tuple[str, _Processor]] = [
            (key, type_._cached_result_processor(dialect, None))
            for key, _name, _objects, type_ in compiled._result_columns
        ]
        self.postgres = dialect.name == "postgresql"

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        try:
            return [params[name] if bind is None else bind(params[name]) for name, bind in self.params]
        except KeyError as exc:
            raise ValueError(
                f"no value for {exc.args[0]!r} (DriverStatement fills no column defaults)"
            ) from None

    def row(self, record: Sequence[Any]) -> dict[str, Any]:
        return {
            key: value if convert is None else convert(value)
            for (key, convert), value in zip(self.columns, record, strict=True)
        }


class DriverStatement:
    """``statement`` run on the driver of a unit of work's connection (see the module docstring)."""

    def __init__(self, statement: Statement) -> None:
        self.statement = statement
        self._by_dialect: dict[str, _Compiled] = {}

    def _compiled(self, connection: AsyncConnection) -> _Compiled:
        dialect = connection.dialect
        compiled = self._by_dialect.get(dialect.name)
        if compiled is None:
            compiled = self._by_dialect[dialect.name] = _Compiled(self.statement, dialect)
        return compiled

    async def rows(self, connection: AsyncConnection, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The rows the statement returns, as column name -> value."""
        compiled = self._compiled(connection)
        args = compiled.args(params)
        driver = await driver_in_transaction(connection)
        try:
            if compiled.postgres:
                records = await driver.fetch(compiled.sql, *args)
            else:
                records = await driver.execute_fetchall(compiled.sql, args)
        except Exception as error:
            raise await _as_sqlalchemy_error(connection, compiled.sql, args, error) from error
        return [compiled.row(record) for record in records]

    async def rowcount(self, connection: AsyncConnection, params: Mapping[str, Any]) -> int:
        """Run an INSERT, UPDATE or DELETE (without RETURNING); how many rows it wrote or matched."""
        compiled = self._compiled(connection)
        args = compiled.args(params)
        driver = await driver_in_transaction(connection)
        try:
            if compiled.postgres:
                status: str = await driver.execute(compiled.sql, *args)
                return int(status.rsplit(" ", 1)[-1])
            cursor = await driver.execute(compiled.sql, args)
        except Exception as error:
            raise await _as_sqlalchemy_error(connection, compiled.sql, args, error) from error
        count: int = cursor.rowcount
        await cursor.close()
        return count


async def _as_sqlalchemy_error(
    connection: AsyncConnection, sql: str, args: Sequence[Any], error: Exception
) -> BaseException:
    """``error`` as SQLAlchemy would have raised it, so callers catch ``IntegrityError``, ``OperationalError``
    and the rest as they do for any statement. A lost connection is invalidated, as SQLAlchemy does, so the
    pool replaces it instead of handing it to the next unit of work."""
    dialect = connection.dialect
    raw = await pooled_connection(connection)
    try:
        raw.dbapi_connection._handle_exception(error)  # raises the DB-API error SQLAlchemy's adapter would
    except Exception as translated:
        error = translated
    dbapi_error = dialect.loaded_dbapi.Error
    if not isinstance(error, dbapi_error):
        return error
    disconnected = dialect.is_disconnect(error, raw.dbapi_connection, None)
    if disconnected:
        await connection.invalidate(error)
    return DBAPIError.instance(
        sql, args, error, dbapi_error, connection_invalidated=disconnected, dialect=dialect
    )
