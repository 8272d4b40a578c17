from warrenctl.breakers import BreakerReading, read_metrics

EXPOSITION = """\
# HELP warren_dependency_breaker_state Circuit breaker state per dependency: 0 closed, 1 half-open, 2 open
# TYPE warren_dependency_breaker_state gauge
warren_dependency_breaker_state{dependency="card-gateway"} 2.0
warren_dependency_breaker_state{dependency="risk-score"} 0.0
# HELP warren_handler_paused_by_breaker 1 while a consumer handler is paused
# TYPE warren_handler_paused_by_breaker gauge
warren_handler_paused_by_breaker{handler="payment.on_stock_answer"} 1.0
# HELP other_metric unrelated
# TYPE other_metric counter
other_metric_total 3.0
"""


def test_breaker_states_and_paused_handlers_are_read_when_services_expose_them() -> None:
    assert read_metrics("payment", EXPOSITION) == [
        BreakerReading("payment", "breaker", "card-gateway", "open"),
        BreakerReading("payment", "breaker", "risk-score", "closed"),
        BreakerReading("payment", "handler", "payment.on_stock_answer", "paused"),
    ]
