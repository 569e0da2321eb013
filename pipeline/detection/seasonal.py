"""An online multiplicative seasonal profile (hour of day, or day of week).

Why this shape: mention volume has a strong daily rhythm and a weaker weekly one, and both must be
learned from the stream itself, a few buckets at a time, without storing history. Each slot keeps
decayed sums of what was observed there and of the slow baseline at the time; their ratio is the
slot's factor. Factors are

* interpolated between slot centres, so the expected volume does not jump at 09:00 sharp; or,
  with ``blend < 1``, held flat within a slot and blended only over that fraction of a slot
  around the boundary (the weekly profile: a Sunday is a Sunday until late evening, and a
  noon-to-noon interpolation put Monday 02:00 halfway to the weekend level);
* shrunk toward flat in log space by maturity ``d**2 / (d**2 + prior**2)`` (``d`` = periods seen,
  decayed), so one day of history moves the profile a little and the fast level tracker carries the
  rest. The pull fades as the square of the history (92 % of the profile after a week at a 2-day
  prior, 99 % after three) because ``d`` saturates at the memory length: the earlier
  ``d / (d + prior)`` kept a strong daily rhythm about 10 % flattened forever, so the expected
  volume ran 20-35 % low through every morning rise, which is how quiet months paged;
* optionally (the daily profile) *settled* once a full period has been seen: the slots' reference
  is then rebuilt from the period's own mean (:meth:`SeasonalProfile.settle`), because the slow
  baseline a first-day slot was compared with was itself still learning (a slot visited an hour
  after the series began was compared with its own level, so its factor read about 1 whatever the
  hour), and from then on a slot whose factor is precisely known is applied in full whatever its
  age: the weight becomes the larger of the maturity above and an empirical-Bayes weight
  ``spread**2 / (spread**2 + se**2)``, ``se**2 = (unit / mean + alpha) / visits`` being the
  sampling variance of the slot's log factor under negative-binomial counts. A busy series shows
  its daily shape in one day (a 45-a-bucket series: se ~0.15 against a night-to-afternoon range
  of ~2.8 in log), a sparse one does not, and keeps the slow maturity. Without it, day-2 mornings
  of busy series with a strong rhythm were expected at 0.35-0.5 of their volume and paged;
* normalised to mean 1, so the profile and the level cannot drift together.

The state is three lists of floats, kept by the caller (the detector serialises it).
"""

from __future__ import annotations

import math


class SeasonalProfile:
    """A periodic profile of ``slots`` slots over ``period_seconds``; state is ``sx, sb, n``."""

    __slots__ = (
        "_blend",
        "_clip",
        "_gamma",
        "_mean",
        "_prior",
        "_raw",
        "_settled",
        "_slot_seconds",
        "_spread2",
        "_unit",
        "_visits_per_period",
        "n",
        "noise_alpha",
        "period",
        "sb",
        "slots",
        "sx",
    )

    def __init__(
        self,
        *,
        slots: int,
        period_seconds: int,
        bucket_seconds: int,
        memory_periods: float,
        prior_periods: float,
        clip: float,
        blend: float = 1.0,
        noise_alpha: float | None = None,
        spread: float = 0.0,
    ) -> None:
        self.slots = slots
        self._blend = blend
        self.period = period_seconds
        self._slot_seconds = period_seconds / slots
        # A slot is visited (slot width / bucket width) times per period.
        self._visits_per_period = max(self._slot_seconds / bucket_seconds, 1e-9)
        self._gamma = 1.0 / max(memory_periods * self._visits_per_period, 1.0)
        self._prior = prior_periods
        self._clip = math.log(clip)
        # Empirical-Bayes weighting (None: maturity only); set per series by :meth:`configure`.
        self.noise_alpha = noise_alpha
        self._spread2 = spread * spread
        self._unit = 1.0
        self._settled = False
        self.sx = [0.0] * slots
        self.sb = [0.0] * slots
        self.n = [0.0] * slots
        # Derived from (sx, sb, n) slot by slot, so always identical after a state round trip.
        self._raw = [1.0] * slots
        self._mean = 1.0

    def _position(self, t_mid: float) -> tuple[int, int, float]:
        """The two slots around time ``t_mid`` (epoch seconds) and the weight of the second."""
        u = (t_mid % self.period) / self._slot_seconds - 0.5
        fl = math.floor(u)
        w = u - fl
        if self._blend < 1.0:  # only blend within blend/2 of the boundary between the slots
            w = min(1.0, max(0.0, (w - 0.5) / self._blend + 0.5))
        a = fl % self.slots
        return a, (a + 1) % self.slots, w

    def _slot_factor(self, k: int) -> float:
        """Shrunk, clipped factor of slot ``k`` before normalisation."""
        n = self.n[k]
        sb = self.sb[k]
        if n <= 0.0 or sb <= 0.0:
            return 1.0
        sx = self.sx[k]
        raw = math.log(sx / sb) if sx > 0.0 else -self._clip
        raw = max(-self._clip, min(self._clip, raw))
        d = n / self._visits_per_period
        weight = d * d / (d * d + self._prior * self._prior)
        if self._settled and self.noise_alpha is not None and sx > 0.0:
            # Sampling variance of log(mean count) over n visits: (phi / mean + alpha) / n.
            se2 = (self._unit * n / sx + self.noise_alpha) / n
            weight = max(weight, self._spread2 / (self._spread2 + se2))
        return math.exp(raw * weight)

    def configure(self, *, unit: float, settled: bool) -> None:
        """The series' count unit (phi floor) and whether :meth:`settle` has run; cheap if unchanged.

        Both come from the detector's own state (``unit``, buckets seen), so a profile restored
        from a dump is configured the same way and gives the same factors.
        """
        unit = max(float(unit), 1.0)
        if unit == self._unit and settled == self._settled:
            return
        self._unit = unit
        self._settled = settled
        self._refresh(tuple(range(self.slots)))

    def settle(self) -> None:
        """Compare every slot seen so far with the mean of the slots' means, not the young baseline.

        Called once, when the first full period has been learned. What each slot saw (``sx``,
        ``n``) stays; only its reference ``sb`` is rebuilt as if the baseline had been that mean
        all along. Later visits keep comparing with the slow baseline, which by then has settled.
        """
        means = [sx / n for sx, n in zip(self.sx, self.n, strict=True) if n > 0.0]
        if not means:
            return
        ref = sum(means) / len(means)
        if ref <= 0.0:
            return
        self.sb = [n * ref for n in self.n]
        self._settled = True
        self._refresh(tuple(range(self.slots)))

    def reset(self) -> None:
        """Forget everything learned (the slots go back to flat)."""
        self.sx = [0.0] * self.slots
        self.sb = [0.0] * self.slots
        self.n = [0.0] * self.slots
        self._refresh(tuple(range(self.slots)))

    def _refresh(self, slots: tuple[int, ...]) -> None:
        for k in slots:
            self._raw[k] = self._slot_factor(k)
        self._mean = sum(self._raw) / self.slots

    def factors(self) -> list[float]:
        """Shrunk, clipped, mean-1 factors of all slots."""
        return [f / self._mean for f in self._raw]

    def factor_at(self, t_mid: float) -> float:
        """The profile's factor at ``t_mid`` (epoch seconds), interpolated between slot centres."""
        a, b, w = self._position(t_mid)
        return ((1.0 - w) * self._raw[a] + w * self._raw[b]) / self._mean

    def learn(self, t_mid: float, value: float, baseline: float, weight: float = 1.0) -> None:
        """Record ``value`` (deseasonalised by the other profiles) against the slow ``baseline``."""
        a, b, w = self._position(t_mid)
        for slot, omega in ((a, (1.0 - w) * weight), (b, w * weight)):
            if omega <= 0.0:
                continue
            decay = 1.0 - omega * self._gamma
            self.sx[slot] = self.sx[slot] * decay + omega * value
            self.sb[slot] = self.sb[slot] * decay + omega * baseline
            self.n[slot] = self.n[slot] * decay + omega
        self._refresh((a, b))

    def dump(self) -> list[list[float]]:
        return [self.sx[:], self.sb[:], self.n[:]]

    def load(self, data: list[list[float]]) -> None:
        sx, sb, n = data
        if not len(sx) == len(sb) == len(n) == self.slots:
            raise ValueError(f"seasonal state must have {self.slots} slots")
        self.sx = [float(v) for v in sx]
        self.sb = [float(v) for v in sb]
        self.n = [float(v) for v in n]
        self._refresh(tuple(range(self.slots)))
