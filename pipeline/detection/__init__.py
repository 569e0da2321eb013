"""Spike detection for brand x topic mention series: a pure, serialisable online detector.

Used unchanged by the ``detect_spikes`` Faust agent (one :class:`SeriesDetector` per series, its
:meth:`~SeriesDetector.to_state` kept in a changelog-backed table) and by ``tocsin backtest``.
"""

from pipeline.detection.config import DetectorConfig
from pipeline.detection.detector import Reading, SeriesDetector

__all__ = ["DetectorConfig", "Reading", "SeriesDetector"]
