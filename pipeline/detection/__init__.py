"""Spike detection for brand x topic mention series: a pure, serialisable online detector.

Used unchanged by the counting stage (one :class:`SeriesDetector` per brand x topic, its
:meth:`~SeriesDetector.to_state` kept with the brand's counts in a changelog-backed table, see
:mod:`pipeline.counting.judge`) and by ``tocsin backtest``.
"""

from pipeline.detection.config import DetectorConfig
from pipeline.detection.detector import SeriesDetector
from pipeline.detection.reading import Reading

__all__ = ["DetectorConfig", "Reading", "SeriesDetector"]
