"""The sfu–billing seam: what the sfu reports per subscriber is what the tick service reads.

Neither package imports the other; billing.tick.Delivery is a Protocol that sfu.Delivery
satisfies structurally. mypy checks this file (pyproject [tool.mypy] files), so a field renamed
or retyped on either side fails `make test` before any money is counted wrong.
"""

from collections.abc import Mapping

import billing.tick
import sfu


def as_billing_delivery(delivery: sfu.Delivery) -> billing.tick.Delivery:
    """The static check: mypy rejects this if sfu.Delivery does not satisfy the protocol."""
    return delivery


def delivery_fn(router: sfu.Sfu) -> billing.tick.DeliveryFn:
    """The wiring's shape: the sfu's take_delivery is the tick service's delivery callable."""
    return router.take_delivery


def test_sfu_delivery_reads_as_billing_delivery() -> None:
    delivery = sfu.Delivery(40, 48_000, 30, seconds=(1_700_000_000,), pending=2, ended=True)
    seen = as_billing_delivery(delivery)
    assert (seen.seconds, seen.pending, seen.unacknowledged, seen.ended) == (
        (1_700_000_000,),
        2,
        0,
        True,
    )


def test_take_delivery_reads_as_delivery_fn() -> None:
    taken: Mapping[str, billing.tick.Delivery] = delivery_fn(sfu.Sfu(sfu.IceSettings()))()
    assert taken == {}  # no subscriber yet
