"""Counters and histograms of one process, kept in plain dicts and rendered at a scrape.

prometheus-client's own metrics are made for any thread to write at any time: every
``inc`` and ``observe`` takes a lock, checks the metric is observable and looks for an
exemplar. Here every value is written by one thread, the event loop's, and read only when
Prometheus scrapes, so a dict of label values to numbers does: recording a tool call's
seven values went from about 17 µs to about 2 µs. The scrape renders the dicts through
prometheus-client's documented custom-collector interface (``Collector.collect`` yielding
``CounterMetricFamily`` and ``HistogramMetricFamily``) as the same text its own metrics
give, ``_created`` samples included (``tests/pantry_mcp/test_metric_tallies.py`` compares
the two).

A scrape may come from another thread (``PANTRY_MCP_METRICS_ADDRESS`` serves it from
prometheus-client's own HTTP server): it copies each dict and each cell before reading,
which under the interpreter lock sees a whole dict, never one being resized. Several
processes cannot share these (their values live in no file): ``serve --workers N`` uses
prometheus-client's multiprocess mode instead (``metrics.py``).
"""

from __future__ import annotations

import itertools
import math
import time
from bisect import bisect_left
from collections.abc import Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

Labels = tuple[str, ...]


class TallyCounter:
    """A counter family: label values -> [value, created]."""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str]) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self.cells: dict[Labels, list[float]] = {}

    def inc(self, labels: Labels, amount: float = 1.0) -> None:
        cell = self.cells.get(labels)
        if cell is None:
            cell = self.cells[labels] = [0.0, time.time()]
        cell[0] += amount

    def family(self) -> Metric:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for labels, cell in list(self.cells.items()):
            value, created = list(cell)
            family.add_metric(labels, value, created=created)
        return family


class TallyHistogram:
    """A histogram family: label values -> [count per bucket (the last is +Inf), sum,
    created]. A value goes to the first bucket whose upper bound it does not exceed."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        buckets: Sequence[float],
    ) -> None:
        if list(buckets) != sorted(buckets) or not buckets or math.isinf(buckets[-1]):
            raise ValueError("buckets: finite upper bounds in increasing order (+Inf is added)")
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self.bounds = tuple(float(bound) for bound in buckets)
        # the bucket labels as prometheus-client writes them ("0.005", "1.0", "+Inf")
        self._les = [repr(bound) for bound in self.bounds] + ["+Inf"]
        self.cells: dict[Labels, list[float]] = {}

    def observe(self, labels: Labels, value: float) -> None:
        cell = self.cells.get(labels)
        if cell is None:
            cell = self.cells[labels] = [0.0] * (len(self.bounds) + 2) + [time.time()]
        cell[bisect_left(self.bounds, value)] += 1
        cell[-2] += value

    def family(self) -> Metric:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        buckets = len(self._les)
        for labels, cell in list(self.cells.items()):
            copy = list(cell)
            counts = itertools.accumulate(copy[:buckets])
            family.add_metric(labels, list(zip(self._les, counts, strict=True)), copy[buckets])
            named = dict(zip(self.labelnames, labels, strict=True))
            family.add_sample(self.name + "_created", named, copy[buckets + 1])
        return family


class Tallies(Collector):
    """The families of one registry, collected in the order they were made."""

    def __init__(self) -> None:
        self._families: list[TallyCounter | TallyHistogram] = []

    def counter(self, name: str, documentation: str, labelnames: Sequence[str]) -> TallyCounter:
        counter = TallyCounter(name, documentation, labelnames)
        self._families.append(counter)
        return counter

    def histogram(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        buckets: Sequence[float],
    ) -> TallyHistogram:
        histogram = TallyHistogram(name, documentation, labelnames, buckets)
        self._families.append(histogram)
        return histogram

    def collect(self) -> Iterator[Metric]:
        for family in self._families:
            yield family.family()
