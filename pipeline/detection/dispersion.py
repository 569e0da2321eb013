"""Online estimate of how noisy a count series is: ``var = phi * mu + alpha * mu**2``.

Why two parameters: mention counts are over-dispersed in two ways. Bursts (a thread takes off, a
repost cascade) make the variance grow with the square of the mean (negative binomial ``alpha``);
lumpy counting (one mention counted under several topics, reach-weighted volumes, or a series that
is simply 10x another) makes it grow linearly (quasi-Poisson ``phi``). With both, scaling a series
by 10 scales ``phi`` by 10 and leaves ``alpha`` alone, so what pages does not depend on the units.

The fit is an exponentially weighted least squares of the squared residual on ``mu`` and
``mu**2`` (weights ~ 1 / variance**2, the usual choice for squared residuals), with a ridge prior
toward ``(phi_prior, alpha_prior)`` worth ``prior_buckets`` buckets of evidence, so a young series
gets the wide prior and a series whose mean never moves (where the two terms cannot be told apart)
stays well-posed. Evidence is counted per parameter: a bucket informs ``alpha`` in proportion to the
share of the variance that ``alpha`` explains at its mean, so a night of near-empty buckets (where
the noise is all Poisson) does not talk the model out of its burstiness prior before the first busy
morning.

``unit`` is the count granularity the detector has seen (the gcd of the counts so far, 1 for
ordinary counts): a series whose counts are all multiples of ``u`` has at least ``u``-fold
Poisson noise, so the prior and the floor of ``phi`` are multiplied by it. That makes the whole
model equivariant under scaling from the first bucket, not only once the data outweigh the prior.
"""

from __future__ import annotations

_STATS = 8  # s11, s12, s22, t1, t2, n, e1, e2


class DispersionModel:
    """Sufficient statistics of the weighted fit; ``phi`` and ``alpha`` are the current estimate."""

    __slots__ = ("_a0", "_amax", "_amin", "_decay", "_k", "_p0", "_pmin", "alpha", "phi", "stats")

    def __init__(
        self,
        *,
        decay: float,
        phi_prior: float,
        alpha_prior: float,
        prior_buckets: float,
        phi_min: float,
        alpha_min: float,
        alpha_max: float,
    ) -> None:
        self._decay = decay
        self._p0 = phi_prior
        self._a0 = alpha_prior
        self._k = prior_buckets
        self._pmin = phi_min
        self._amin = alpha_min
        self._amax = alpha_max
        self.stats = [0.0] * _STATS
        self.phi = max(phi_prior, phi_min)
        self.alpha = min(max(alpha_prior, alpha_min), alpha_max)

    def variance(self, mu: float) -> float:
        return self.phi * mu + self.alpha * mu * mu

    def learn(
        self, mu: float, residual_sq: float, ref_mu: float, weight: float, unit: float = 1.0
    ) -> None:
        """Add one bucket: expected ``mu``, squared residual, ``ref_mu`` bounding the weight."""
        if weight <= 0.0 or mu <= 0.0:
            return
        if self.stats[5] <= 0.0:  # first evidence: start from the prior at this series' unit
            self.phi = max(self._p0, self._pmin) * unit
        self.phi = max(self.phi, self._pmin * unit)
        # Weight ~ 1/var(ref)^2 with ref_mu >= a fraction of the typical level: near-empty night
        # buckets would otherwise dominate the fit through a tiny variance.
        v = self.variance(max(mu, ref_mu))
        w = weight / (v * v)
        d = 1.0 - weight * (1.0 - self._decay)
        s = self.stats
        mu2 = mu * mu
        s[0] = s[0] * d + w * mu2
        s[1] = s[1] * d + w * mu2 * mu
        s[2] = s[2] * d + w * mu2 * mu2
        s[3] = s[3] * d + w * residual_sq * mu
        s[4] = s[4] * d + w * residual_sq * mu2
        s[5] = s[5] * d + weight
        # Share of the variance each term explains under the prior (scale-free: mu / unit).
        p0 = self._p0 * unit
        v0 = p0 * mu + self._a0 * mu2
        s[6] = s[6] * d + weight * (p0 * mu / v0) ** 2
        s[7] = s[7] * d + weight * (self._a0 * mu2 / v0) ** 2
        self._solve(unit)

    def _solve(self, unit: float) -> None:
        s11, s12, s22, t1, t2, n, e1, e2 = self.stats
        p0 = self._p0 * unit
        pmin = self._pmin * unit
        if n <= 0.0 or s11 <= 0.0 or s22 <= 0.0:
            self.phi = max(p0, pmin)
            return
        # Ridge strength: prior_buckets fully informative observations of each term.
        r1 = self._k * s11 / max(e1, 1e-12)
        r2 = self._k * s22 / max(e2, 1e-12)
        a11 = s11 + r1
        a22 = s22 + r2
        b1 = t1 + r1 * p0
        b2 = t2 + r2 * self._a0
        det = a11 * a22 - s12 * s12
        if det <= 0.0:
            return
        phi = (b1 * a22 - s12 * b2) / det
        alpha = (a11 * b2 - s12 * b1) / det
        if phi < pmin:
            phi = pmin
            alpha = (b2 - s12 * phi) / a22
        if alpha < self._amin or alpha > self._amax:
            alpha = min(max(alpha, self._amin), self._amax)
            phi = max(pmin, (b1 - s12 * alpha) / a11)
        self.phi = phi
        self.alpha = alpha

    def dump(self) -> list[float]:
        return [*self.stats, self.phi, self.alpha]

    def load(self, data: list[float]) -> None:
        if len(data) != _STATS + 2:
            raise ValueError("dispersion state has the wrong length")
        self.stats = [float(v) for v in data[:_STATS]]
        self.phi = float(data[_STATS])
        self.alpha = float(data[_STATS + 1])
